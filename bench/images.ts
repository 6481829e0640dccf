/**
 * What a node pulls and stores for the add-on: each shipped image, per platform, its layers compressed (the
 * download) and unpacked (the files on the node's disk), read from the OCI archives images/build.sh writes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageArchive, shippedImages } from '@sidecar-destruct/infra';
import type { ImagesRaw } from './tables.ts';

const run = promisify(execFile);

/** The sum of the regular files' sizes in a layer tarball (`tar -tv` lists them; gzip is detected). */
async function filesBytes(blob: string): Promise<number> {
  const { stdout } = await run('tar', ['-tvf', blob], { maxBuffer: 64 * 2 ** 20 });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('-'))
    .reduce((sum, line) => sum + Number(line.split(/\s+/)[2] ?? 0), 0);
}

export async function imagesBench(log: (line: string) => void): Promise<ImagesRaw> {
  const shipped = await shippedImages();
  const work = await mkdtemp(join(tmpdir(), 'sidecar-destruct-bench-images-'));
  try {
    const images = [];
    for (const [name, image] of Object.entries(shipped)) {
      const layout = join(work, name);
      const archive = await ImageArchive.open(image.archive, layout);
      const platforms = [];
      for (const platform of await archive.platforms()) {
        const config = await archive.config(platform);
        const layers = [];
        for (const [i, layer] of (await archive.layers(platform)).entries()) {
          layers.push({
            createdBy: config.history?.[i]?.created_by ?? '',
            compressedBytes: layer.size ?? Number.NaN,
            unpackedBytes: await filesBytes(archive.blobPath(layer.digest)),
          });
        }
        platforms.push({ architecture: platform.architecture, layers });
        log(`images: ${name} ${platform.architecture}: ${layers.length} layers`);
      }
      images.push({ name: image.name, digest: image.digest, platforms });
    }
    return { images };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
