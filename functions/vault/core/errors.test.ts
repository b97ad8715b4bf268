// Vault's error shape for a database that cannot serve the request: a retryable 503.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '#shared/db/errors';
import { toVaultError, VaultError } from './errors.js';

describe('toVaultError', () => {
  it('renders a database that is unavailable for now as {errors: [...]} with 503 and Retry-After', async () => {
    const wrapped = new Error('Failed query: select 1', { cause: new DatabaseUnavailableError('db_connection_lost', 'lost') });
    const res = toVaultError(wrapped)!.getResponse();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(await res.json(), { errors: ['storage is temporarily unavailable; retry the request'] });
  });

  it('keeps a VaultError as it is and leaves anything else to the platform', () => {
    const own = new VaultError(400, 'invalid_request', ['bad']);
    assert.equal(toVaultError(own), own);
    assert.equal(toVaultError(new Error('bug')), undefined);
    assert.equal(toVaultError(Object.assign(new Error('duplicate'), { code: '23505' })), undefined);
  });
});
