// `zenokube manifests`: writes knative/ from the function declarations; `--check` fails when stale.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkEventWiring, defaultOptions, generateManifests, packageVersion, readCrds, staleFiles, writeManifests, type ManifestOptions } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, functionsDir } from '#shared/function/discover';

const USAGE = `usage: zenokube manifests [--check] [--out knative] [--image ref] [--namespace ns] [--gateway ns/name] [--cluster-domain d] [--base-url url]
  --check            write nothing; exit 1 and list the files when knative/ is stale
  --base-url         the public address of the Gateway (ZENO_BASE_URL: OIDC issuers, redirects), e.g. https://id.example.com
  --image            the image every workload runs (default zenokube:<package version>, see docs/deploying.md)
  --cluster-domain   the cluster's DNS domain in Service URLs (default cluster.local)
`;

/**
 * An image reference as the container runtime parses it: `[host[:port]/]path[:tag][@digest]`,
 * path components lower-case.
 * @see https://github.com/distribution/reference/blob/main/regexp.go
 */
const IMAGE_REFERENCE =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

/** Options from the command line over the reference defaults. */
export function optionsFromArgs(values: { image?: string; namespace?: string; gateway?: string; 'cluster-domain'?: string; 'base-url'?: string }, version: string): ManifestOptions {
  const overrides: Partial<ManifestOptions> = {};
  if (values.image !== undefined && !IMAGE_REFERENCE.test(values.image)) throw new TypeError(`--image "${values.image}" is not an image reference ([registry/]name[:tag][@sha256:digest])`);
  if (values.image) overrides.image = values.image;
  if (values.namespace) overrides.namespace = values.namespace;
  if (values['cluster-domain']) overrides.clusterDomain = values['cluster-domain'];
  if (values['base-url'] !== undefined) overrides.baseUrl = publicUrl(values['base-url']);
  if (values.gateway) {
    const [namespace, name] = values.gateway.includes('/') ? values.gateway.split('/', 2) : ['zenokube-system', values.gateway];
    if (!namespace || !name) throw new TypeError(`--gateway "${values.gateway}" is not <namespace>/<name> or <name>`);
    overrides.gateway = { namespace, name };
  }
  return defaultOptions(version, overrides);
}

/** An http(s) origin with an optional path, as ZENO_BASE_URL takes it (no query, no fragment, no trailing slash). */
function publicUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new TypeError(`--base-url "${value}" is not a URL`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash || u.username || u.password) {
    throw new TypeError(`--base-url "${value}" must be an http(s) URL without credentials, query or fragment`);
  }
  return u.href.replace(/\/+$/, '');
}

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        check: { type: 'boolean', default: false },
        out: { type: 'string' },
        image: { type: 'string' },
        namespace: { type: 'string' },
        gateway: { type: 'string' },
        'cluster-domain': { type: 'string' },
        'base-url': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const root = projectRoot();
  let options: ManifestOptions;
  try {
    options = optionsFromArgs(v, packageVersion(root));
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}`);
    return 2;
  }
  const out = resolve(root, v.out ?? 'knative');
  const decls = await discoverFunctions(functionsDir(root));
  // Every emitted type in the catalog, every consumed type with a producer: checked before writing.
  const { catalog } = await import('#eventing/catalog');
  checkEventWiring(decls, new Set(catalog.types.map((t) => t.type)));
  const { files, warnings } = generateManifests(decls, options, readCrds(root));
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);

  if (v.check) {
    const { changed, missing, extra } = staleFiles(out, files);
    const stale = [...changed.map((p) => `changed  ${p}`), ...missing.map((p) => `missing  ${p}`), ...extra.map((p) => `extra    ${p}`)];
    if (!stale.length) {
      process.stdout.write(`knative/ is up to date (${files.size} files, ${decls.length} functions)\n`);
      return 0;
    }
    process.stderr.write(`knative/ is stale; run npm run manifests:\n  ${stale.join('\n  ')}\n`);
    return 1;
  }
  const { written, removed } = writeManifests(out, files);
  const lines = [...written.map((p) => `wrote    ${p}`), ...removed.map((p) => `removed  ${p}`)];
  process.stdout.write(lines.length ? `${lines.join('\n')}\n` : `knative/ is up to date (${files.size} files)\n`);
  return 0;
}
