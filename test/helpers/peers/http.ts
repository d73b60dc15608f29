import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A local HTTP peer standing in for a webhook endpoint, a Teams workflow or any
// receiver: it keeps every request and answers each with the next queued
// answer, or with the default one.

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Answer = (res: ServerResponse) => void;

export interface HttpReceiver {
  /** The receiver's URL with `path` (and query) appended. */
  url: string;
  received: ReceivedRequest[];
  /** How the next requests are answered, in turn; then the default answer. */
  answers: Answer[];
  close(): Promise<void>;
}

/** Answers with a status and a short body. */
export const answerWith =
  (status: number, body = 'ok', headers: Record<string, string> = {}): Answer =>
  (res) =>
    res.writeHead(status, headers).end(body);

export async function startHttpReceiver(
  path = '/hooks/ferry',
  defaultAnswer: Answer = answerWith(200),
): Promise<HttpReceiver> {
  const received: ReceivedRequest[] = [];
  const answers: Answer[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks),
    });
    (answers.shift() ?? defaultAnswer)(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
