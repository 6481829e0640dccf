/** Reads one Kubernetes object from a YAML or JSON file, or from stdin for `-`. */
import { readFile } from 'node:fs/promises';
import { err, ok, type Result } from '@sidecar-destruct/core';
import { parseAllDocuments } from 'yaml';

export type ReadText = (path: string) => Promise<string>;

export const readTextFile: ReadText = async (path) => {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(path, 'utf8');
};

/** YAML is a superset of JSON, so one parser serves both; exactly one document is expected. */
export function parseDocument(text: string, name: string): Result<unknown> {
  const documents = parseAllDocuments(text, { uniqueKeys: false }).filter((d) => d.contents !== null);
  if (documents.length === 0) return err(`${name} is empty`);
  if (documents.length > 1)
    return err(`${name} holds ${documents.length} documents; give one object per file`);
  const [document] = documents;
  if (!document || document.errors.length > 0) {
    return err(
      `${name} is not valid YAML or JSON: ${document?.errors[0]?.message.split('\n')[0] ?? 'unreadable'}`,
    );
  }
  return ok(document.toJS({ maxAliasCount: 100 }));
}

export async function readDocument(path: string, read: ReadText): Promise<Result<unknown>> {
  const name = path === '-' ? 'stdin' : path;
  let text: string;
  try {
    text = await read(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return err(`cannot read ${name}${code ? ` (${code})` : ''}`);
  }
  return parseDocument(text, name);
}
