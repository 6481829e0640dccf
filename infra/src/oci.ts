/**
 * The images as shipped, opened without a container engine: the platforms an OCI image archive (what
 * images/build.sh writes) holds, and one platform's layers unpacked into a root filesystem, with its config. The
 * arm64 suite runs that root filesystem's own runtime (Bun in the sidecar's, Node in the webhook's) and bundle under
 * qemu-user.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly config: {
    readonly Entrypoint?: readonly string[];
    readonly Cmd?: readonly string[];
    readonly User?: string;
    readonly Env?: readonly string[];
  };
  /** One entry per layer, in order (images/build.sh writes one per layer). */
  readonly history?: ReadonlyArray<{ readonly created_by?: string }>;
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  /** The manifest's own digest (`sha256:…`). */
  readonly digest: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size?: number;
  readonly platform?: { readonly architecture: string; readonly os: string };
}

const INDEX = 'application/vnd.oci.image.index.v1+json';

/** An OCI image archive extracted into `dir` (blobs and index.json), once. */
export class ImageArchive {
  private constructor(private readonly dir: string) {}

  static async open(archive: string, dir: string): Promise<ImageArchive> {
    await mkdir(dir, { recursive: true });
    await run('tar', ['-xf', archive, '-C', dir]);
    return new ImageArchive(dir);
  }

  /** The file of a blob in the extracted archive. */
  blobPath(digest: string): string {
    const [algorithm, hex] = digest.split(':');
    return join(this.dir, 'blobs', algorithm ?? '', hex ?? '');
  }

  private async blob<T>(digest: string): Promise<T> {
    return JSON.parse(await readFile(this.blobPath(digest), 'utf8')) as T;
  }

  /** Every platform manifest, through nested indexes (the archive's index names the image's index). */
  async platforms(): Promise<Platform[]> {
    const out: Platform[] = [];
    const walk = async (manifests: readonly Descriptor[]): Promise<void> => {
      for (const m of manifests) {
        if (m.mediaType === INDEX)
          await walk((await this.blob<{ manifests: Descriptor[] }>(m.digest)).manifests);
        else if (m.platform) out.push({ ...m.platform, digest: m.digest });
      }
    };
    const index = JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as {
      manifests: Descriptor[];
    };
    await walk(index.manifests);
    return out;
  }

  /** The config of one platform's image. */
  async config(platform: Platform): Promise<ImageConfig> {
    const manifest = await this.blob<{ config: Descriptor }>(platform.digest);
    return this.blob<ImageConfig>(manifest.config.digest);
  }

  /** One platform's layer descriptors, in order (each with its blob's size). */
  async layers(platform: Platform): Promise<readonly Descriptor[]> {
    return (await this.blob<{ layers: Descriptor[] }>(platform.digest)).layers;
  }

  /** One platform's layers, in order, unpacked into `rootfs`. */
  async unpack(platform: Platform, rootfs: string): Promise<void> {
    await mkdir(rootfs, { recursive: true });
    for (const layer of await this.layers(platform))
      await run('tar', ['-xf', this.blobPath(layer.digest), '-C', rootfs]);
  }
}

/** The ELF machine of a binary: 62 is x86-64, 183 is AArch64 (elf.h's EM_X86_64 and EM_AARCH64). */
export async function elfMachine(path: string): Promise<number> {
  const head = (await readFile(path)).subarray(0, 20);
  if (head.toString('latin1', 0, 4) !== '\x7fELF') throw new Error(`${path} is not an ELF file`);
  // e_machine is a 16-bit field at offset 18, in the byte order EI_DATA says (1: little endian).
  return head[5] === 1 ? head.readUInt16LE(18) : head.readUInt16BE(18);
}

export const ELF_MACHINE: Readonly<Record<string, number>> = Object.freeze({ amd64: 62, arm64: 183 });
