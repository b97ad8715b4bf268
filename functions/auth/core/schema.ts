// ZenoAuth's tables in the `auth` Postgres schema: tenants, keys, users and groups, clients,
// grants (codes, token families, refresh tokens), sessions, interactions, audit and the outbox.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { inboxTable, outboxTable } from '#shared/events/tables';

export const auth = pgSchema('auth');

const at = (name?: string) => (name ? timestamp(name, { withTimezone: true }) : timestamp({ withTimezone: true }));
const created = () => at().notNull().defaultNow();

/** One issuer per tenant: `{base}/auth/{slug}`. */
export const tenants = auth.table('tenants', {
  id: uuid().primaryKey().defaultRandom(),
  slug: text().notNull().unique(),
  displayName: text().notNull(),
  createdAt: created(),
});

/**
 * Signing keys: Ed25519 (EdDSA, RFC 8037) for access tokens, RS256 for ID tokens by default.
 * `kid` is the RFC 7638 thumbprint; the private JWK is sealed with AES-256-GCM (AAD = tenant + kid).
 */
export const signingKeys = auth.table(
  'signing_keys',
  {
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    kid: text().notNull(),
    alg: text().notNull().$type<'EdDSA' | 'RS256'>(),
    publicJwk: jsonb().notNull().$type<Record<string, unknown>>(),
    privateJwkSealed: text().notNull(),
    status: text().notNull().$type<'active' | 'retired'>(),
    createdAt: created(),
    retiredAt: at(),
    /** A retired key stays in the JWKS until every token it signed has expired. */
    publishUntil: at(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.kid] }),
    uniqueIndex('signing_keys_one_active').on(t.tenantId, t.alg).where(sql`status = 'active'`),
  ],
);

/** Users carry what SCIM 2.0 (RFC 7643 §4.1) needs: externalId, active, emails. */
export const users = auth.table(
  'users',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** Stored lower-cased; unique per tenant. */
    username: text().notNull(),
    email: text(),
    emailVerified: boolean().notNull().default(false),
    emails: jsonb().notNull().default([]).$type<{ value: string; type?: string; primary?: boolean }[]>(),
    name: text(),
    givenName: text(),
    familyName: text(),
    externalId: text(),
    active: boolean().notNull().default(true),
    passwordHash: text(),
    createdAt: created(),
    updatedAt: created(),
    /** SCIM `meta.version` (RFC 7644 §3.14): bumped by a trigger on every update. */
    version: integer().notNull().default(1),
    /** SCIM attributes without a column of their own (the enterprise extension, phone numbers, …). */
    scimExtra: jsonb().notNull().default({}).$type<Record<string, unknown>>(),
  },
  (t) => [
    uniqueIndex().on(t.tenantId, t.username),
    index().on(t.tenantId, t.email),
    uniqueIndex().on(t.tenantId, t.externalId),
  ],
);

export const groups = auth.table(
  'groups',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    displayName: text().notNull(),
    externalId: text(),
    createdAt: created(),
    updatedAt: created(),
    /** SCIM `meta.version`: bumped by a trigger on every update (a membership change touches the group). */
    version: integer().notNull().default(1),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.displayName), uniqueIndex().on(t.tenantId, t.externalId)],
);

/** Direct user members of a group. */
export const groupMembers = auth.table(
  'group_members',
  {
    groupId: uuid().notNull().references(() => groups.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index().on(t.userId)],
);

/** Nested groups (a group member of another group), for SCIM's nested groups. */
export const groupNesting = auth.table(
  'group_nesting',
  {
    parentId: uuid().notNull().references(() => groups.id, { onDelete: 'cascade' }),
    childId: uuid().notNull().references(() => groups.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.parentId, t.childId] }), index().on(t.childId)],
);

/**
 * Long-lived SCIM bearer tokens of a tenant, as provisioning clients (Entra ID, Okta) expect them.
 * The token is `zscim_<id>.<secret>`; the row keeps SHA-256 of the secret, compared in constant time.
 */
export const scimTokens = auth.table(
  'scim_tokens',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    secretHash: text().notNull(),
    createdAt: created(),
    lastUsedAt: at(),
    revokedAt: at(),
  },
  (t) => [index().on(t.tenantId)],
);

/** OAuth clients (RFC 7591 metadata, our own policy knobs beside it). */
export const clients = auth.table(
  'clients',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    clientId: text().notNull(),
    name: text().notNull(),
    /** SHA-256 of the 256-bit random secret (hex); null for public and private_key_jwt clients. */
    secretHash: text(),
    tokenEndpointAuthMethod: text().notNull().$type<ClientAuthMethod>(),
    redirectUris: text().array().notNull().default([]),
    postLogoutRedirectUris: text().array().notNull().default([]),
    /** Browser origins that may read the token endpoints' answers (CORS); null: the origins of the redirect URIs. */
    allowedOrigins: text().array(),
    /** OIDC Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed, and whether they carry `sid`. */
    backchannelLogoutUri: text(),
    backchannelLogoutSessionRequired: boolean().notNull().default(false),
    /** OIDC Front-Channel Logout 1.0 §2: rendered in an iframe at logout, with `iss` and `sid` when required. */
    frontchannelLogoutUri: text(),
    frontchannelLogoutSessionRequired: boolean().notNull().default(false),
    grantTypes: text().array().notNull(),
    scopes: text().array().notNull(),
    jwks: jsonb().$type<{ keys: Record<string, unknown>[] }>(),
    idTokenSignedResponseAlg: text().notNull().default('RS256').$type<'RS256' | 'EdDSA'>(),
    accessTokenTtl: integer().notNull().default(600),
    refreshTokenTtl: integer().notNull().default(2_592_000),
    /** Seconds a rotated refresh token may be presented again (a retry after a lost response); 0 = off. */
    refreshReuseGraceSeconds: integer().notNull().default(0),
    requirePushedAuthorizationRequests: boolean().notNull().default(false),
    authorizationDetailsTypes: text().array().notNull().default([]),
    /** RFC 9449 §5.2 dpop_bound_access_tokens: every token request must carry a DPoP proof. */
    dpopBoundAccessTokens: boolean().notNull().default(false),
    /** RFC 9449 §8: the client's proofs at the token endpoint must carry a nonce we issued. */
    dpopNonceRequired: boolean().notNull().default(false),
    /** RFC 8693 policy: the audiences (and resources) the client may exchange tokens for. */
    tokenExchangeAudiences: text().array().notNull().default([]),
    /** RFC 8693 §1.1: whether the client may impersonate a subject (an exchange without actor_token). */
    tokenExchangeImpersonation: boolean().notNull().default(false),
    /** RFC 8693 subject tokens the client may present from other issuers (another tenant, another site), with their keys. */
    tokenExchangeTrustedIssuers: jsonb().$type<{ issuer: string; jwks: { keys: Record<string, unknown>[] } }[]>().notNull().default([]),
    /** RFC 9101 §10.5 require_signed_request_object: every authorization request comes as a signed request object. */
    requireSignedRequestObject: boolean().notNull().default(false),
    /** JARM §3 authorization_signed_response_alg: the algorithm of signed authorization responses. */
    authorizationSignedResponseAlg: text().notNull().default('RS256').$type<'RS256' | 'EdDSA'>(),
    /** A security profile the client is held to ('fapi2': FAPI 2.0 Security Profile), or none. */
    securityProfile: text().$type<'fapi2'>(),
    /** RFC 8705 §2.1.2: the one certificate field a tls_client_auth client is identified by. */
    tlsClientAuthSubjectDn: text(),
    tlsClientAuthSanDns: text(),
    tlsClientAuthSanUri: text(),
    tlsClientAuthSanIp: text(),
    tlsClientAuthSanEmail: text(),
    /** RFC 8705 §3.4 tls_client_certificate_bound_access_tokens. */
    tlsClientCertificateBoundAccessTokens: boolean().notNull().default(false),
    /** First-party clients skip the consent page. */
    firstParty: boolean().notNull().default(false),
    /** What the `groups` claim lists: group names (display names) or their ids. */
    groupsClaimFormat: text().$type<'names' | 'ids'>().notNull().default('names'),
    /** SHA-256 of the RFC 7592 registration access token, for dynamically registered clients. */
    registrationTokenHash: text(),
    createdAt: created(),
    updatedAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.clientId)],
);

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth' | 'none';

/** Browser sessions: the cookie holds an opaque value, the row its SHA-256. */
export const sessions = auth.table(
  'sessions',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    secretHash: text().notNull().unique(),
    authTime: at().notNull(),
    acr: text().notNull(),
    amr: text().array().notNull(),
    userAgent: text(),
    ip: text(),
    /** SHA-256 of the long-lived device cookie: a sign-in from a device the user never used is announced. */
    deviceHash: text(),
    /** What the user signed in with, in words for the sessions page ("password", "passkey “Laptop”"). */
    authenticator: text(),
    createdAt: created(),
    lastSeenAt: created(),
    expiresAt: at().notNull(),
    revokedAt: at(),
  },
  (t) => [index().on(t.tenantId, t.userId)],
);

/** Pending authorization requests: pushed (PAR, RFC 9126) or awaiting login/consent. */
export const interactions = auth.table('interactions', {
  /** SHA-256 of the handle (the PAR request_uri suffix, or the interaction id in the form). */
  idHash: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  clientId: uuid().notNull().references(() => clients.id, { onDelete: 'cascade' }),
  kind: text().notNull().$type<'par' | 'interaction'>(),
  params: jsonb().notNull().$type<Record<string, unknown>>(),
  csrf: text(),
  /** Set once the user authenticated in this interaction (pending consent). */
  sessionId: uuid(),
  expiresAt: at().notNull(),
  consumedAt: at(),
});

export const authorizationCodes = auth.table('authorization_codes', {
  codeHash: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  clientId: uuid().notNull().references(() => clients.id, { onDelete: 'cascade' }),
  userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
  sessionId: uuid(),
  redirectUri: text().notNull(),
  scope: text().notNull(),
  nonce: text(),
  codeChallenge: text(),
  resource: text().array().notNull().default([]),
  authorizationDetails: jsonb().$type<Record<string, unknown>[]>(),
  authTime: at().notNull(),
  acr: text().notNull(),
  amr: text().array().notNull(),
  expiresAt: at().notNull(),
  consumedAt: at(),
  createdAt: created(),
});

/** A grant: every refresh token and access token minted from one code (or one CC grant's RAR). */
export const tokenFamilies = auth.table(
  'token_families',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    clientId: uuid().notNull().references(() => clients.id, { onDelete: 'cascade' }),
    userId: uuid().references(() => users.id, { onDelete: 'cascade' }),
    sessionId: uuid(),
    codeHash: text(),
    scope: text().notNull(),
    resource: text().array().notNull().default([]),
    authorizationDetails: jsonb().$type<Record<string, unknown>[]>(),
    authTime: at(),
    acr: text(),
    amr: text().array(),
    /** RFC 9449 §5: the JWK thumbprint a public client's refresh tokens are bound to. */
    dpopJkt: text(),
    /** RFC 8705 §4: the certificate thumbprint (x5t#S256) a public client's refresh tokens are bound to. */
    certThumbprint: text(),
    createdAt: created(),
    revokedAt: at(),
    revokedReason: text(),
  },
  (t) => [index().on(t.codeHash), index().on(t.sessionId)],
);

export const refreshTokens = auth.table(
  'refresh_tokens',
  {
    tokenHash: text().primaryKey(),
    familyId: uuid().notNull().references(() => tokenFamilies.id, { onDelete: 'cascade' }),
    tenantId: uuid().notNull(),
    expiresAt: at().notNull(),
    /** Set when rotated: presenting it again is reuse. */
    usedAt: at(),
    createdAt: created(),
  },
  (t) => [index().on(t.familyId)],
);

/**
 * Device authorization requests (RFC 8628 §3.1-§3.5). The device code is stored as its SHA-256, the
 * user code (8 letters of §6.1's alphabet, about 34.5 bits) as the SHA-256 of its normalised form.
 * `pending` until the user decides at the verification page, then `approved` or `denied`; an
 * approved request becomes `consumed` when its tokens are issued, once.
 */
export const deviceCodes = auth.table(
  'device_codes',
  {
    deviceCodeHash: text().primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    clientId: uuid().notNull().references(() => clients.id, { onDelete: 'cascade' }),
    userCodeHash: text().notNull(),
    scope: text().notNull(),
    resource: text().array().notNull().default([]),
    authorizationDetails: jsonb().$type<Record<string, unknown>[]>(),
    status: text().notNull().default('pending').$type<'pending' | 'approved' | 'denied' | 'consumed'>(),
    userId: uuid().references(() => users.id, { onDelete: 'cascade' }),
    sessionId: uuid(),
    authTime: at(),
    acr: text(),
    amr: text().array(),
    /** RFC 8628 §3.5: raised by 5 s at each `slow_down`. */
    intervalSeconds: integer().notNull().default(5),
    lastPolledAt: at(),
    expiresAt: at().notNull(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.userCodeHash)],
);

/** RFC 9449 §11.1: the `jti` of every DPoP proof accepted, kept until its `iat` leaves the window. */
export const dpopProofJtis = auth.table(
  'dpop_proof_jtis',
  {
    tenantId: uuid().notNull(),
    jti: text().notNull(),
    expiresAt: at().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.jti] })],
);

/** Access tokens revoked before their expiry (RFC 7009), kept until they would expire. */
export const revokedAccessTokens = auth.table('revoked_access_tokens', {
  jti: text().primaryKey(),
  tenantId: uuid().notNull(),
  expiresAt: at().notNull(),
});

/** RFC 7523 §3 item 7: a client assertion's `jti` is accepted once. */
export const clientAssertionJtis = auth.table(
  'client_assertion_jtis',
  {
    tenantId: uuid().notNull(),
    clientId: uuid().notNull(),
    jti: text().notNull(),
    expiresAt: at().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.clientId, t.jti] })],
);

export const consents = auth.table(
  'consents',
  {
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    clientId: uuid().notNull().references(() => clients.id, { onDelete: 'cascade' }),
    tenantId: uuid().notNull(),
    scopes: text().array().notNull(),
    updatedAt: created(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId] })],
);

/** Security audit trail; kept when a tenant is deleted (no foreign key). */
export const audit = auth.table(
  'audit',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    at: created(),
    tenantId: uuid(),
    action: text().notNull(),
    outcome: text().notNull().$type<'success' | 'failure'>(),
    actor: text(),
    clientId: text(),
    ip: text(),
    userAgent: text(),
    requestId: text(),
    detail: jsonb().$type<Record<string, unknown>>(),
  },
  (t) => [index().on(t.tenantId, t.action, t.actor, t.at), index().on(t.tenantId, t.action, t.ip, t.at)],
);

/**
 * A user's TOTP authenticator (RFC 6238). The secret is sealed with AES-256-GCM under a key derived
 * from the master key (AAD = tenant, user and row id); `lastStep` is the last accepted time step,
 * so a code is accepted once. Unconfirmed until the user enters a first code.
 */
export const totpCredentials = auth.table(
  'totp_credentials',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    secretSealed: text().notNull(),
    algorithm: text().notNull().$type<'SHA1' | 'SHA256' | 'SHA512'>(),
    digits: integer().notNull().$type<6 | 8>(),
    period: integer().notNull(),
    lastStep: bigint({ mode: 'number' }),
    confirmedAt: at(),
    createdAt: created(),
  },
  (t) => [index().on(t.tenantId, t.userId)],
);

/** One-time recovery codes: HMAC-SHA-256 under a derived key (a database reader cannot test guesses). */
export const recoveryCodes = auth.table(
  'recovery_codes',
  {
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text().notNull(),
    usedAt: at(),
    createdAt: created(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/** A sign-in whose password was right and which waits for its second factor (keyed by the interaction). */
export const mfaChallenges = auth.table('mfa_challenges', {
  interactionHash: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
  amr: text().array().notNull(),
  expiresAt: at().notNull(),
});

/** A tenant's second-factor policy: optional (the default, no row), required, or required for members of groups. */
export const mfaPolicies = auth.table('mfa_policies', {
  tenantId: uuid().primaryKey().references(() => tenants.id, { onDelete: 'cascade' }),
  mode: text().notNull().$type<'optional' | 'required' | 'groups'>(),
  /** For `groups`: members of these groups (directly or through nested groups) need a second factor. */
  groupIds: uuid().array().notNull().default([]),
  updatedAt: created(),
});

// SAML 2.0 IdP (docs/saml.md). Kept together so that the SAML tables read as one block.

/**
 * A tenant's SAML signing key: RSA-2048 (SAML SPs expect RSA-SHA256), the PKCS#8 private key
 * sealed with AES-256-GCM under a key derived from the master key (AAD = tenant + row id), and
 * its self-signed certificate (base64 DER) as metadata publishes it. One active key per tenant;
 * a retired one stays in the metadata until `publishUntil`, so SPs can pick up the new one first.
 */
export const samlKeys = auth.table(
  'saml_keys',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    privateKeySealed: text().notNull(),
    certificate: text().notNull(),
    status: text().notNull().$type<'active' | 'retired'>(),
    createdAt: created(),
    retiredAt: at(),
    publishUntil: at(),
  },
  (t) => [uniqueIndex('saml_keys_one_active').on(t.tenantId).where(sql`status = 'active'`)],
);

/** A SAML service provider registered with a tenant (by hand or from its metadata). */
export const samlServiceProviders = auth.table(
  'saml_service_providers',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    entityId: text().notNull(),
    name: text(),
    /** Assertion Consumer Services: `{ url, index, binding, isDefault }`. */
    acs: jsonb().notNull().$type<{ url: string; index: number; binding: 'post' | 'redirect'; isDefault: boolean }[]>(),
    sloUrl: text(),
    sloBinding: text().$type<'post' | 'redirect'>(),
    /** The SP's signing certificates (base64 DER): verify its AuthnRequests and LogoutRequests. */
    certificates: jsonb().notNull().default([]).$type<string[]>(),
    nameIdFormat: text().notNull(),
    /** `{ name, friendlyName?, source }`: which user attribute goes out under which SAML name. */
    attributeMap: jsonb().notNull().default([]).$type<{ name: string; friendlyName?: string; source: string }[]>(),
    signResponse: boolean().notNull().default(true),
    signAssertion: boolean().notNull().default(true),
    wantAuthnRequestsSigned: boolean().notNull().default(false),
    allowIdpInitiated: boolean().notNull().default(true),
    /** The SP's encryption certificates (base64 DER), from `KeyDescriptor use="encryption"`. */
    encryptionCertificates: jsonb().notNull().default([]).$type<string[]>(),
    /** Assertions go out as an EncryptedAssertion (AES-256-GCM, RSA-OAEP) to the first encryption certificate. */
    encryptAssertion: boolean().notNull().default(false),
    /**
     * How the content key travels to the SP (XML-Enc 1.1 §5.5.2): `rsa-oaep-mgf1p` (SHA-1 digest
     * and MGF1, what every SAML stack reads) or `rsa-oaep-sha256` (`xmlenc11#rsa-oaep`, SHA-256
     * digest and MGF1-SHA-256), chosen from the `EncryptionMethod`s the SP's metadata advertises.
     */
    keyTransport: text().notNull().default('rsa-oaep-mgf1p').$type<'rsa-oaep-mgf1p' | 'rsa-oaep-sha256'>(),
    /** Where the SP publishes its metadata; set, the scheduled refresh reads it again. */
    metadataUrl: text(),
    /** The last refresh that read good metadata, the last attempt, and the last attempt's error (null after a success). */
    metadataRefreshedAt: at(),
    metadataCheckedAt: at(),
    metadataError: text(),
    createdAt: created(),
    updatedAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.entityId)],
);

/**
 * AuthnRequests received: each request id is accepted once per SP (SAML Profiles §4.1.4.5 allows
 * refusing a replay), and a request that waits for the user to sign in keeps its parameters here,
 * found by the SHA-256 of the handle its sign-in form carries.
 */
export const samlRequests = auth.table(
  'saml_requests',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    spId: uuid().notNull().references(() => samlServiceProviders.id, { onDelete: 'cascade' }),
    /** The AuthnRequest's ID; null for IdP-initiated sign-in. */
    requestId: text(),
    handleHash: text().notNull().unique(),
    csrf: text().notNull(),
    params: jsonb().notNull().$type<Record<string, unknown>>(),
    /** Set once the password was right and a second factor is awaited. */
    userId: uuid().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: created(),
    expiresAt: at().notNull(),
    consumedAt: at(),
  },
  (t) => [uniqueIndex().on(t.spId, t.requestId)],
);

/** Which SPs a browser session signed in to, under which NameID: what single logout must reach. */
export const samlParticipants = auth.table(
  'saml_participants',
  {
    sessionId: uuid().notNull().references(() => sessions.id, { onDelete: 'cascade' }),
    spId: uuid().notNull().references(() => samlServiceProviders.id, { onDelete: 'cascade' }),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    nameId: text().notNull(),
    nameIdFormat: text().notNull(),
    sessionIndex: text().notNull(),
    createdAt: created(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.spId] }), index().on(t.tenantId, t.sessionIndex)],
);

/**
 * A tenant's WebAuthn relying party (W3C WebAuthn Level 3 §5.1.3, §13.4.1): the RP ID and the
 * origins its ceremonies may come from (none: the host and origin of the public base URL), the
 * user-verification requirement and the attestation conveyance asked at registration.
 */
export const webauthnSettings = auth.table('webauthn_settings', {
  tenantId: uuid().primaryKey().references(() => tenants.id, { onDelete: 'cascade' }),
  rpId: text(),
  origins: text().array().notNull().default([]),
  userVerification: text().notNull().default('preferred').$type<'required' | 'preferred' | 'discouraged'>(),
  attestation: text().notNull().default('none').$type<'none' | 'direct'>(),
  updatedAt: created(),
});

/**
 * A user's passkeys and security keys (WebAuthn public key credentials). `mac` is HMAC-SHA-256
 * under a key derived from the master key over the tenant, user, credential id and public key, so
 * a database writer cannot plant a key of their own on someone's account.
 */
export const webauthnCredentials = auth.table(
  'webauthn_credentials',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    /** base64url of the credential id the authenticator chose. */
    credentialId: text().notNull(),
    /** base64url of the COSE public key. */
    publicKey: text().notNull(),
    /** The signature counter (§6.1.1): a value that does not grow is a sign of a cloned authenticator. */
    counter: bigint({ mode: 'number' }).notNull().default(0),
    transports: text().array().notNull().default([]),
    deviceType: text().notNull().$type<'singleDevice' | 'multiDevice'>(),
    backedUp: boolean().notNull(),
    aaguid: text().notNull(),
    attestationFormat: text().notNull(),
    name: text().notNull(),
    mac: text().notNull(),
    createdAt: created(),
    lastUsedAt: at(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.credentialId), index().on(t.tenantId, t.userId)],
);

/**
 * Outstanding WebAuthn challenges (§13.4.3: random, at least 16 bytes, used once). The row is
 * deleted by the request that answers it, so a replayed or late answer finds nothing.
 */
export const webauthnChallenges = auth.table('webauthn_challenges', {
  /** SHA-256 of the base64url challenge. */
  challengeHash: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  purpose: text().notNull().$type<'register' | 'sign-in' | 'second-factor'>(),
  userId: uuid().references(() => users.id, { onDelete: 'cascade' }),
  /** What the answer must come with: SHA-256 of the interaction handle, or of the session's id. */
  binding: text().notNull(),
  expiresAt: at().notNull(),
});

/** Password-reset links: the link carries 256 random bits, the row their SHA-256; used once, within 30 minutes. */
export const passwordResets = auth.table(
  'password_resets',
  {
    tokenHash: text().primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: created(),
    expiresAt: at().notNull(),
    usedAt: at(),
  },
  (t) => [index().on(t.tenantId, t.userId)],
);

/** A tenant's self-service sign-up (no row: off): open, or by invitation; optionally only for addresses of given domains. */
export const signupPolicies = auth.table('signup_policies', {
  tenantId: uuid().primaryKey().references(() => tenants.id, { onDelete: 'cascade' }),
  mode: text().notNull().$type<'off' | 'open' | 'invite-only'>(),
  /** Lower-case domains; empty: any address. */
  allowedDomains: text().array().notNull().default([]),
  updatedAt: created(),
});

/** Sign-up invitations: the link carries 256 random bits, the row their SHA-256; used once, before it expires. */
export const signupInvites = auth.table(
  'signup_invites',
  {
    tokenHash: text().primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** When set, the only address the invitation signs up (lower-case). */
    email: text(),
    createdBy: text().notNull(),
    createdAt: created(),
    expiresAt: at().notNull(),
    usedAt: at(),
  },
  (t) => [index().on(t.tenantId)],
);

/**
 * E-mail confirmation links, after sign-up (`verify`) and for a change of address (`change`): the
 * link carries 256 random bits, the row their SHA-256 and the address it confirms; used once.
 */
export const emailConfirmations = auth.table(
  'email_confirmations',
  {
    tokenHash: text().primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
    purpose: text().notNull().$type<'verify' | 'change'>(),
    email: text().notNull(),
    createdAt: created(),
    expiresAt: at().notNull(),
    usedAt: at(),
  },
  (t) => [index().on(t.tenantId, t.userId)],
);

/** A tenant's look on its self-service pages: the name shown, a logo (https URL) and two colours (`#rrggbb`). */
export const tenantBrandings = auth.table('tenant_brandings', {
  tenantId: uuid().primaryKey().references(() => tenants.id, { onDelete: 'cascade' }),
  displayName: text(),
  logoUrl: text(),
  primaryColour: text(),
  backgroundColour: text(),
  updatedAt: created(),
});

export const outbox = outboxTable(auth);
/** Events already processed (the scheduled clean-up), so a redelivery has no second effect. */
export const inbox = inboxTable(auth);

export type Tenant = typeof tenants.$inferSelect;
export type Group = typeof groups.$inferSelect;
export type User = typeof users.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type NewClient = typeof clients.$inferInsert;
export type Session = typeof sessions.$inferSelect;
export type SigningKey = typeof signingKeys.$inferSelect;
export type AuthorizationCode = typeof authorizationCodes.$inferSelect;
export type TokenFamily = typeof tokenFamilies.$inferSelect;
export type Interaction = typeof interactions.$inferSelect;
export type TotpCredential = typeof totpCredentials.$inferSelect;
export type DeviceCode = typeof deviceCodes.$inferSelect;
export type SamlServiceProvider = typeof samlServiceProviders.$inferSelect;
export type WebauthnCredential = typeof webauthnCredentials.$inferSelect;
export type WebauthnSettings = typeof webauthnSettings.$inferSelect;

// Outbound SCIM push: a tenant's downstream SCIM targets, the id each of our users and groups has
// at a target, and the queue of resources waiting to be pushed (retries, dead letters).

/** A downstream SCIM service provider that receives this tenant's users and groups. */
export const scimTargets = auth.table(
  'scim_targets',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** The target's SCIM base, e.g. `https://idp.example/scim/v2`. */
    url: text().notNull(),
    /** The bearer credential, AES-256-GCM sealed with the row id as associated data. */
    tokenSealed: text().notNull(),
    /** Ids of the groups to push (with their members); null pushes every group and user. */
    groupIds: uuid().array(),
    /** Push each group with its transitive user members and no nested groups. */
    flatten: boolean().notNull().default(false),
    /** A drift reconcile holds the target until then (one round per target at a time, across pods). */
    reconcileLeaseUntil: at(),
    /** When the last reconcile round ended, and what it found and did (docs/scim.md). */
    lastReconcileAt: at(),
    lastReconcile: jsonb().$type<Record<string, unknown>>(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.name)],
);

/** The id a target gave to one of our users or groups. */
export const scimPushLinks = auth.table(
  'scim_push_links',
  {
    targetId: uuid().notNull().references(() => scimTargets.id, { onDelete: 'cascade' }),
    resourceType: text().notNull().$type<'User' | 'Group'>(),
    resourceId: uuid().notNull(),
    remoteId: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.resourceType, t.resourceId] })],
);

/**
 * One resource to bring up to date at one target. A change coalesces with a pending row of the
 * same resource (the push sends the current state, so the last change wins); `deadAt` marks a
 * row that ran out of attempts.
 */
export const scimPushQueue = auth.table(
  'scim_push_queue',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    targetId: uuid().notNull().references(() => scimTargets.id, { onDelete: 'cascade' }),
    resourceType: text().notNull().$type<'User' | 'Group'>(),
    resourceId: uuid().notNull(),
    attempts: integer().notNull().default(0),
    nextAttemptAt: created(),
    lastError: text(),
    deadAt: at(),
    createdAt: created(),
  },
  (t) => [index().on(t.targetId, t.deadAt, t.nextAttemptAt), index().on(t.targetId, t.resourceType, t.resourceId)],
);

export type ScimTarget = typeof scimTargets.$inferSelect;
export type ScimPushItem = typeof scimPushQueue.$inferSelect;

// Cross-site sync (air-gapped mode): the peer sites a tenant keeps in step with over SCIM, and the
// tombstones that carry deletes to them (docs/scim-sync.md).

/** Another site's SCIM base this tenant syncs with, both ways, on the `auth-scim-sync` schedule. */
export const scimSyncPeers = auth.table(
  'scim_sync_peers',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** The peer's SCIM base, e.g. `https://site-b.example/auth/acme/scim/v2`. */
    url: text().notNull(),
    /** A bearer token of the peer's tenant with scope `scim`, sealed with the row id as associated data. */
    tokenSealed: text().notNull(),
    /** A round holds the peer until then (one round per peer at a time, across pods). */
    leaseUntil: at(),
    lastRoundAt: at(),
    lastError: text(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.name)],
);

/**
 * A deleted user or group, kept so that a peer deletes its copy too. `key` is the sync identity
 * (the externalId, or the id of a resource that had none); written by a trigger on every delete.
 */
export const scimTombstones = auth.table(
  'scim_tombstones',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    resourceType: text().notNull().$type<'User' | 'Group'>(),
    key: text().notNull(),
    /** The delete's time: its `meta.lastModified` in last-writer-wins. */
    deletedAt: at().notNull().defaultNow(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.resourceType, t.key), index().on(t.tenantId, t.deletedAt)],
);

export type ScimSyncPeer = typeof scimSyncPeers.$inferSelect;
export type ScimTombstone = typeof scimTombstones.$inferSelect;
