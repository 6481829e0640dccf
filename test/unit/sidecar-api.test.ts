/**
 * The sidecar's API client tells a bug from bad input from a lost connection: each ends a watch differently, and
 * only the first is an exception. Against a local HTTPS server scripted per case (what the API server itself
 * answers is covered in test/e2e).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Api, linesOf, parseWatchEvent, retryAfterMs } from '@sidecar-destruct/sidecar/api';
import { loopbackServingCertificate } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const { ca, serving } = loopbackServingCertificate();
const bookmark = `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } })}\n`;

let server: Server;
let port: number;
let handle: (req: IncomingMessage, res: ServerResponse) => void = () => {};
let requests = 0;

beforeAll(async () => {
  server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
    requests++;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function api(
  token: () => Promise<string | undefined> = async () => 't',
  signal = new AbortController().signal,
) {
  return new Api(
    { server: new URL(`https://127.0.0.1:${port}`), ca: Buffer.from(ca.certPem), token },
    { requestTimeoutMs: 2_000, signal },
  );
}
const watchOptions = { timeoutSeconds: 300, idleTimeoutMs: 2_000 };

describe('the watch stream', () => {
  it('ends as malformed on a line that is not a watch event', async () => {
    handle = (_req, res) => {
      res.writeHead(200);
      res.end(`${bookmark}{"type":"MODIFIED","object":{"metadata":{}}}\n<html>proxy error</html>\n`);
    };
    const events: string[] = [];
    const end = await api().watchNode('pi', { from: 'now' }, watchOptions, (e) => events.push(e.type));
    expect(end.kind).toBe('malformed');
    expect(events).toEqual(['BOOKMARK', 'MODIFIED']);
  });

  it('ends as malformed on a last line cut off in the middle', async () => {
    handle = (_req, res) => {
      res.writeHead(200);
      res.end(`${bookmark}{"type":"MODIF`);
    };
    expect((await api().watchNode('pi', { from: 'now' }, watchOptions, () => {})).kind).toBe('malformed');
  });

  it('ends as unreachable when the connection drops mid-stream', async () => {
    handle = (_req, res) => {
      res.writeHead(200);
      res.write(bookmark);
      setTimeout(() => res.socket?.destroy(), 50);
    };
    expect((await api().watchNode('pi', { from: 'now' }, watchOptions, () => {})).kind).toBe('unreachable');
  });

  it('rejects with the bug when the code handling an event throws, instead of calling it bad input', async () => {
    handle = (_req, res) => {
      res.writeHead(200);
      res.end(bookmark);
    };
    await expect(
      api().watchNode('pi', { from: 'now' }, watchOptions, () => {
        throw new TypeError('a bug in the rule code');
      }),
    ).rejects.toThrow('a bug in the rule code');
  });

  it("returns a refusal with the server's Retry-After", async () => {
    handle = (_req, res) => {
      res.writeHead(429, { 'retry-after': '7' });
      res.end('{"kind":"Status","reason":"TooManyRequests","message":"slow down"}');
    };
    expect(await api().watchNode('pi', { from: 'now' }, watchOptions, () => {})).toEqual({
      kind: 'refused',
      status: 429,
      reason: 'TooManyRequests',
      message: 'slow down',
      retryAfterMs: 7_000,
    });
  });

  it('makes no request when shutdown began while the token was being read', async () => {
    const controller = new AbortController();
    const before = requests;
    const slowToken = async () => {
      controller.abort();
      return 't';
    };
    const end = await api(slowToken, controller.signal).watchNode(
      'pi',
      { from: 'now' },
      watchOptions,
      () => {},
    );
    expect(end).toEqual({ kind: 'aborted' });
    expect(requests).toBe(before);
  });

  it('answers no-credentials, without a request, when the token cannot be read', async () => {
    const before = requests;
    const reply = await api(async () => {
      throw new Error('ENOENT');
    }).getNode('pi');
    expect(reply.kind).toBe('no-credentials');
    expect(requests).toBe(before);
  });
});

describe('parsing', () => {
  it('splits chunks into lines, wherever the chunks break', async () => {
    async function* chunks() {
      yield '{"a":';
      yield '1}\n{"b"';
      yield ':2}\n\n';
    }
    const lines: string[] = [];
    for await (const line of linesOf(chunks())) lines.push(line);
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it.each([
    ['not JSON', '{oops'],
    ['no type', '{"object":{}}'],
    ['an unknown type', '{"type":"RENAMED","object":{}}'],
    ['no object', '{"type":"ADDED"}'],
  ])('refuses a watch line with %s', (_what, line) => {
    expect(parseWatchEvent(line)).toBeUndefined();
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 4_000)).toBe(6_000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
  });
});
