/**
 * Human output shows names, registry data and error messages written by others. A raw ESC, CR or
 * newline in them could rewrite the terminal or forge table rows, so each such character is
 * shown escaped ("\x1b", "\n"): C0/C1 controls, DEL, and the bidi/line separators that reorder text.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with every control character escaped; printable text (any script) unchanged. */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
