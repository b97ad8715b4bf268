// The environment variables ZenoMail's functions declare (validated by the platform at boot).
import type { EnvDeclaration } from '#shared/function/define';

export const MAIL_KEY_ENV: Record<string, EnvDeclaration> = {
  ZENO_MAIL_SERVICE_KEY: {
    description: 'base64 of 32 random bytes sealing the per-subject keys (from ZenoVault in a cluster; on one machine generated under the data dir when unset)',
    secret: { name: 'zeno-mail', key: 'service-key' },
  },
};
