// ZenoMail's sealing (service key → subject keys, message key → content): the platform's
// AES-256-GCM (#shared/crypto/aead), with the associated data below naming the row it belongs to.
export { DecryptError, open, openText, seal, sealText } from '#shared/crypto/aead';

/** Length-prefixed parts, so that no two tuples give the same associated data. */
const tuple = (...parts: string[]) => parts.map((p) => `${p.length}:${p}`).join('/');

/** Associated data of each sealed column: a ciphertext is only valid in the row it was written for. */
export const aad = {
  subjectKey: (tenant: string, subject: string) => `zenokube/mail/subject-key/${tuple(tenant, subject)}`,
  content: (tenant: string, messageId: string) => `zenokube/mail/content/${tuple(tenant, messageId)}`,
  eventDetail: (tenant: string, messageId: string, kind: string) => `zenokube/mail/event/${tuple(tenant, messageId, kind)}`,
  transportSecret: (tenant: string) => `zenokube/mail/transport-secret/${tuple(tenant)}`,
  dkimKey: (tenant: string, domain: string) => `zenokube/mail/dkim-key/${tuple(tenant, domain)}`,
} as const;
