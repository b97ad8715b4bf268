// Auto-unseal at start: when the stored seal type wraps the root key remotely, fetch it, check it
// against the canary and adopt it; retry while the remote seal is unreachable. An explicit
// sys/seal stops the loop (the vault then stays sealed until a restart or recovery shares).
import type { Logger } from '#shared/log/index';
import type { SealWrapper } from '#functions/vault/core/seal';
import type { Keyring } from './keyring.js';

export function startAutoUnseal(keyring: Keyring, seal: SealWrapper, log: Logger, retryMs = 2000): { stop(): void; again(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = async () => {
    if (stopped || !keyring.isSealed()) return;
    try {
      const config = await keyring.loadConfig();
      if (!config) return schedule();
      if (!config.sealWrappedRootKey || config.type !== seal.type) return;
      const root = await seal.unwrap(config.sealWrappedRootKey);
      if (stopped || !keyring.isSealed()) {
        root.fill(0);
        return;
      }
      if (!keyring.adopt(root, config)) {
        log.error('auto-unseal: the unwrapped root key does not open the canary');
        return;
      }
      log.info('auto-unsealed', { seal: seal.type });
    } catch (err) {
      log.warn('auto-unseal failed; retrying', { err });
      schedule();
    }
  };
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => void attempt(), retryMs).unref();
  };
  void attempt();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    /** After a rekey elsewhere sealed this replica: unwrap the new root key now (and retry). */
    again: async () => {
      if (timer) clearTimeout(timer);
      stopped = false;
      await attempt();
    },
  };
}
