// Loaded into a bench's agent process with `node --import`: answers 'memory' on the IPC channel
// with process.memoryUsage() (no GC forced: what the process holds as it runs). The channel is
// unref'd after the listener is added (adding it refs the channel), so it never keeps the agent alive.
process.on('message', (m) => {
  if (m === 'memory') process.send?.(process.memoryUsage());
});
process.channel?.unref();
