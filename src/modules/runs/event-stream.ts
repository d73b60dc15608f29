import type { ServerResponse } from 'node:http';
import { AppError, Unavailable } from '../../lib/errors.ts';
import type { Principal } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import type { RunView } from './present.ts';
import { isTerminal } from './schema.ts';
import { getTenantRun } from './service.ts';

// GET /runs/{id}/events: the run as server-sent events whenever it changes, until
// it ends. One LISTEN per process (events.ts) feeds every stream; each user or
// key holds at most FERRY_MAX_EVENT_STREAMS of them.

export interface RunEventStream {
  first: RunView;
  follow: (send: (run: RunView | null) => void) => () => void;
  release: () => void;
}

/** Takes a stream slot of the caller and reads the run (a 404 gives the slot back); 429 when none is free. */
export async function openRunEventStream(
  deps: Deps,
  principal: Principal,
  id: string,
): Promise<RunEventStream> {
  const events = deps.runEvents;
  if (!events) throw new Unavailable('Run events are not served by this process');
  const release = events.reserve(streamOwner(principal));
  if (!release)
    throw new AppError(
      'RateLimited',
      `At most ${events.maxStreamsPerPrincipal} run event streams may be open at once per user or API key; close one before opening another`,
    );
  let first: RunView;
  try {
    first = await getTenantRun(deps, principal, id);
  } catch (err) {
    release();
    throw err;
  }
  // Streams of one run share its reads: any follower's load serves all (they are of its tenant).
  const load = async () => {
    try {
      return await getTenantRun(deps, principal, id);
    } catch (err) {
      if (err instanceof AppError) return null;
      throw err;
    }
  };
  return { first, follow: (send) => events.follow(id, load, send), release };
}

/**
 * Sends the run as server-sent events, from `first` on, whenever it changes, until it
 * ends (or is gone), the client leaves, or the server closes (`open` holds the ends).
 */
export function writeRunEvents(
  res: ServerResponse,
  { first, follow, release }: RunEventStream,
  open: Set<() => void>,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let last = '';
  let ended = false;
  let unfollow = () => {};
  const end = () => {
    if (ended) return;
    ended = true;
    unfollow();
    release();
    open.delete(end);
    res.end();
  };
  const send = (run: RunView | null) => {
    if (ended) return;
    if (!run) return end();
    const state = JSON.stringify(run);
    if (state !== last) res.write(`event: run\ndata: ${state}\n\n`);
    last = state;
    if (isTerminal(run.status)) end();
  };
  open.add(end);
  res.on('close', end);
  send(first);
  if (!ended) unfollow = follow(send);
}

/** Whose stream slots a request uses: the API key, or the signed-in user across their sessions. */
function streamOwner(principal: Principal): string {
  return principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId ?? principal.sessionId}`;
}
