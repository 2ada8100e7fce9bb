/**
 * The validate command's code as one file: the build bundles this entry to CommonJS
 * (dist/cli/validate-code.cjs) with a V8 code cache beside it, which validate-main.ts runs.
 */
export { reportError } from './error-exit.ts';
export { runValidate } from './run-validate.ts';
