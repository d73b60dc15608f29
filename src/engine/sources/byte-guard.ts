import type { EventEmitter } from 'node:events';

/**
 * Calls `onOver` once when more than `maxBytes` have arrived on a connection's
 * socket since the call, while the driver is still gathering a row: drivers hand
 * rows on only when whole, so one huge value would otherwise be held in memory in
 * full first. Returns the function that stops counting.
 */
export function guardBytes(
  socket: EventEmitter | undefined,
  maxBytes: number,
  onOver: () => void,
): () => void {
  if (!socket || !Number.isFinite(maxBytes)) return () => {};
  let seen = 0;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen <= maxBytes) return;
    socket.off('data', onData);
    onOver();
  };
  socket.on('data', onData);
  return () => socket.off('data', onData);
}
