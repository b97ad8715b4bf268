import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createMetrics } from '#shared/metrics/index';
import { initialize } from './init.js';
import { createKeyring, decodeShare } from './keyring.js';
import { sealGauge } from './seal-metrics.js';

describe('zeno_vault_sealed', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
  });
  after(async () => tdb?.drop());

  it('reads 1 while sealed, 0 once unsealed and 1 again after the keys are wiped', async () => {
    const { keys } = await initialize(tdb.database, createKeyring(tdb.database), 3, 2);
    const keyring = createKeyring(tdb.database);
    const metrics = createMetrics({ defaults: false });
    sealGauge(metrics, keyring);
    assert.match(await metrics.registry.metrics(), /^zeno_vault_sealed 1$/m);
    await keyring.submitShare(decodeShare(keys[0]!));
    assert.match(await metrics.registry.metrics(), /^zeno_vault_sealed 1$/m, 'one share of two unseals nothing');
    await keyring.submitShare(decodeShare(keys[2]!));
    assert.match(await metrics.registry.metrics(), /^zeno_vault_sealed 0$/m);
    keyring.wipe();
    assert.match(await metrics.registry.metrics(), /^zeno_vault_sealed 1$/m);
  });
});
