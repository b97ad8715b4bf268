// What an admin registers for a SAML service provider, validated: entity id, ACS URLs with their
// index, the SLO endpoint, signing certificates, NameID format, attribute map and signing options.
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { NAMEID_FORMATS } from './constants.js';
import { KEY_TRANSPORTS } from './encryption.js';
import { SamlError } from './saml-error.js';
import type { SamlServiceProvider } from '../schema.js';

/** Where SAML messages may be sent: https, or http on a loopback host for development. */
function isAcceptableEndpoint(value: string): boolean {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return false;
  }
  if (u.hash) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]');
}

function isRsaCertificate(b64: string): boolean {
  return new X509Certificate(Buffer.from(b64, 'base64')).publicKey.asymmetricKeyType === 'rsa';
}

/** base64 DER, with or without PEM armour; must parse as an X.509 certificate. */
function normaliseCertificate(value: string): string | undefined {
  const b64 = value.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  try {
    new X509Certificate(Buffer.from(b64, 'base64'));
    return b64;
  } catch {
    return undefined;
  }
}

const endpoint = z.string().max(2000).refine(isAcceptableEndpoint, 'must be an absolute https (or loopback http) URL without a fragment');
const certificate = z.string().max(16_384).transform((v, ctx) => {
  const c = normaliseCertificate(v);
  if (!c) ctx.addIssue({ code: 'custom', message: 'not an X.509 certificate (base64 DER or PEM)' });
  return c ?? '';
});

/** The user attributes an attribute map can send. */
const ATTRIBUTE_SOURCES = ['id', 'username', 'email', 'name', 'given_name', 'family_name', 'external_id', 'groups'] as const;

const spRegistrationSchema = z.object({
  entity_id: z.string().min(1).max(1024),
  name: z.string().min(1).max(200).optional(),
  /** SAML Profiles §4.1.4.5: the Response goes over HTTP-POST; HTTP-Redirect "MUST NOT" be used for it. */
  acs: z
    .array(z.object({ url: endpoint, index: z.number().int().min(0).max(65_535), binding: z.literal('post').default('post'), is_default: z.boolean().default(false) }))
    .min(1)
    .max(20),
  slo_url: endpoint.optional(),
  slo_binding: z.enum(['post', 'redirect']).default('redirect'),
  certificates: z.array(certificate).max(5).default([]),
  /** The SP's encryption certificates (RSA); the first one receives the encrypted assertions. */
  encryption_certificates: z.array(certificate).max(5).default([]),
  encrypt_assertion: z.boolean().default(false),
  /** The content key's transport: RSA-OAEP with SHA-1 (`rsa-oaep-mgf1p`) or with SHA-256 (`xmlenc11#rsa-oaep`). */
  key_transport: z.enum(KEY_TRANSPORTS).default('rsa-oaep-mgf1p'),
  name_id_format: z.string().refine((f) => NAMEID_FORMATS.includes(f), 'not a supported NameID format').default(NAMEID_FORMATS[0]!),
  attributes: z
    .array(z.object({ name: z.string().min(1).max(256), friendly_name: z.string().min(1).max(256).optional(), source: z.enum(ATTRIBUTE_SOURCES) }))
    .max(50)
    .default([]),
  sign_response: z.boolean().default(true),
  sign_assertion: z.boolean().default(true),
  want_authn_requests_signed: z.boolean().default(false),
  allow_idp_initiated: z.boolean().default(true),
});
export type SpRegistration = z.output<typeof spRegistrationSchema>;
export type SpRegistrationInput = z.input<typeof spRegistrationSchema>;

/** Rules across fields; a problem description or undefined. */
function checkSpRegistration(r: SpRegistration): string | undefined {
  const indexes = new Set(r.acs.map((a) => a.index));
  if (indexes.size !== r.acs.length) return 'each ACS needs its own index';
  if (r.acs.filter((a) => a.is_default).length > 1) return 'at most one ACS can be the default';
  if (r.want_authn_requests_signed && r.certificates.length === 0) return 'want_authn_requests_signed needs a certificate';
  if (r.slo_url && r.certificates.length === 0) return 'single logout needs a certificate: LogoutRequests must be signed (SAML Profiles §4.4.4.1)';
  if (!r.sign_response && !r.sign_assertion) return 'sign_response or sign_assertion (or both) must be true';
  if (r.encrypt_assertion && r.encryption_certificates.length === 0) return 'encrypt_assertion needs an encryption certificate';
  if (r.encryption_certificates.some((c) => !isRsaCertificate(c))) return 'encryption certificates must carry an RSA key (RSA-OAEP key transport)';
  return undefined;
}

/** The input validated (schema, then the rules across fields), or a 422 that lists what is wrong. */
export function parseSpRegistration(input: unknown): SpRegistration {
  const parsed = spRegistrationSchema.safeParse(input);
  if (!parsed.success) throw new SamlError('invalid_sp_registration', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 422);
  const problem = checkSpRegistration(parsed.data);
  if (problem) throw new SamlError('invalid_sp_registration', problem, 422);
  return parsed.data;
}

export function spValues(tenantId: string, r: SpRegistration) {
  return {
    tenantId,
    entityId: r.entity_id,
    name: r.name ?? null,
    acs: r.acs.map((a) => ({ url: a.url, index: a.index, binding: a.binding, isDefault: a.is_default })),
    sloUrl: r.slo_url ?? null,
    sloBinding: r.slo_url ? r.slo_binding : null,
    certificates: r.certificates,
    encryptionCertificates: r.encryption_certificates,
    encryptAssertion: r.encrypt_assertion,
    keyTransport: r.key_transport,
    nameIdFormat: r.name_id_format,
    attributeMap: r.attributes.map((a) => ({ name: a.name, source: a.source, ...(a.friendly_name ? { friendlyName: a.friendly_name } : {}) })),
    signResponse: r.sign_response,
    signAssertion: r.sign_assertion,
    wantAuthnRequestsSigned: r.want_authn_requests_signed,
    allowIdpInitiated: r.allow_idp_initiated,
  };
}

/** The admin API's view of a registered SP. */
export function describeSp(sp: SamlServiceProvider): Record<string, unknown> {
  return {
    id: sp.id,
    entity_id: sp.entityId,
    name: sp.name,
    acs: sp.acs.map((a) => ({ url: a.url, index: a.index, binding: a.binding, is_default: a.isDefault })),
    slo_url: sp.sloUrl,
    slo_binding: sp.sloBinding,
    certificates: sp.certificates,
    encryption_certificates: sp.encryptionCertificates,
    encrypt_assertion: sp.encryptAssertion,
    key_transport: sp.keyTransport,
    name_id_format: sp.nameIdFormat,
    attributes: sp.attributeMap.map((a) => ({ name: a.name, source: a.source, ...(a.friendlyName ? { friendly_name: a.friendlyName } : {}) })),
    sign_response: sp.signResponse,
    sign_assertion: sp.signAssertion,
    want_authn_requests_signed: sp.wantAuthnRequestsSigned,
    allow_idp_initiated: sp.allowIdpInitiated,
    metadata: sp.metadataUrl ? { url: sp.metadataUrl, refreshed_at: sp.metadataRefreshedAt, checked_at: sp.metadataCheckedAt, error: sp.metadataError } : null,
    created_at: sp.createdAt,
    updated_at: sp.updatedAt,
  };
}
