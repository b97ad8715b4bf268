// The RemoteSecret resource (crds/remote-secret.yaml) and the Secret it writes, as the sync reads
// them, with the CRD's defaults filled in for objects written before a default existed.
// @see https://external-secrets.io/latest/api/externalsecret/
export const API_VERSION = 'vault.zenokube.io/v1alpha1';
/** On every Secret the operator writes: the name of its RemoteSecret (what the Secret watch selects). */
export const MANAGED_LABEL = 'vault.zenokube.io/remote-secret';
/** On every Secret the operator writes: the uid of the RemoteSecret, so a namesake never adopts it. */
export const OWNER_UID_ANNOTATION = 'vault.zenokube.io/owner-uid';
/** On a merged Secret: the keys the operator wrote (comma-separated), the only ones it may remove. */
export const KEYS_ANNOTATION = 'vault.zenokube.io/keys';

export type CreationPolicy = 'Owner' | 'Orphan' | 'Merge' | 'None';
export type DeletionPolicy = 'Retain' | 'Delete';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface RemoteSecretStatus {
  observedGeneration?: number;
  refreshTime?: string;
  syncedVersion?: number;
  conditions?: Condition[];
}

export interface Metadata {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
}

export interface RemoteSecret {
  apiVersion?: string;
  kind?: string;
  metadata: Metadata;
  spec: {
    vault?: { mount?: string; role?: string };
    path: string;
    refreshInterval?: string;
    target?: { name?: string; creationPolicy?: CreationPolicy; deletionPolicy?: DeletionPolicy; type?: string };
    data?: { secretKey: string; remoteKey: string }[];
  };
  status?: RemoteSecretStatus;
}

export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: Metadata;
  type?: string;
  /** Values base64-encoded, as the API server stores them. */
  data?: Record<string, string>;
}

/** The spec with the CRD's defaults applied. */
export interface Settings {
  mount: string;
  role: string;
  path: string;
  /** Seconds; 0 reads only when the resource changes. */
  refreshSeconds: number;
  targetName: string;
  creationPolicy: CreationPolicy;
  deletionPolicy: DeletionPolicy;
  type: string;
  data: { secretKey: string; remoteKey: string }[];
}

const INTERVAL = /^(0|(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?)$/;

/** `1h30m` → 5400; undefined when it is not the CRD's pattern. */
function intervalSeconds(text: string): number | undefined {
  const m = INTERVAL.exec(text);
  if (!m || text === '') return undefined;
  return Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

export function settingsOf(r: RemoteSecret): Settings {
  const t = r.spec.target ?? {};
  return {
    mount: r.spec.vault?.mount ?? 'secret',
    role: r.spec.vault?.role ?? 'zenokube-remote-secrets',
    path: r.spec.path,
    refreshSeconds: intervalSeconds(r.spec.refreshInterval ?? '1h') ?? -1,
    targetName: t.name ?? r.metadata.name,
    creationPolicy: t.creationPolicy ?? 'Owner',
    deletionPolicy: t.deletionPolicy ?? 'Retain',
    type: t.type ?? 'Opaque',
    data: r.spec.data ?? [],
  };
}
