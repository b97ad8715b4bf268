import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('fills defaults for an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.baseUrl, 'http://localhost:8080');
    assert.equal(c.dataDir, '.zenokube');
    assert.ok(Object.isFrozen(c));
  });

  it('treats empty strings as unset', () => {
    assert.equal(loadConfig({ DATABASE_URL: '' }).databaseUrl, undefined);
  });

  it('lists every bad variable at once', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ZENO_LOG_LEVEL: 'loud' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.issues.length, 3);
        assert.match(err.message, /PORT/);
        assert.match(err.message, /DATABASE_URL/);
        assert.match(err.message, /ZENO_LOG_LEVEL/);
        return true;
      },
    );
  });

  it('strips a trailing slash from the base URL', () => {
    assert.equal(loadConfig({ ZENO_BASE_URL: 'https://id.example.com/' }).baseUrl, 'https://id.example.com');
  });

  it('bounds every wait of the data layer by default', () => {
    assert.deepEqual(loadConfig({}).database, {
      poolMax: 10,
      poolWaitMs: 5_000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 15_000,
      stallLivenessMs: 60_000,
      prepare: true,
    });
    assert.ok(Object.isFrozen(loadConfig({}).database));
  });

  it('reads the database settings from the environment', () => {
    const c = loadConfig({ ZENO_DB_POOL_MAX: '4', ZENO_DB_POOL_WAIT_MS: '250', ZENO_DB_STATEMENT_TIMEOUT_MS: '1000', ZENO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2000', ZENO_DB_STALL_LIVENESS_MS: '3000', ZENO_DB_PREPARE: 'false' });
    assert.deepEqual(c.database, { poolMax: 4, poolWaitMs: 250, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 2000, stallLivenessMs: 3000, prepare: false });
  });

  it('refuses a database timeout that is off, negative or not a number, listing each', () => {
    assert.throws(
      () => loadConfig({ ZENO_DB_POOL_MAX: '0', ZENO_DB_POOL_WAIT_MS: 'soon', ZENO_DB_STATEMENT_TIMEOUT_MS: '0', ZENO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '-5' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.split(':')[0]),
          ['ZENO_DB_POOL_MAX', 'ZENO_DB_POOL_WAIT_MS', 'ZENO_DB_STATEMENT_TIMEOUT_MS', 'ZENO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS'],
        );
        return true;
      },
    );
  });

  it('refuses a prepare switch that is not true or false, and a listen URL without a database URL', () => {
    assert.throws(
      () => loadConfig({ ZENO_DB_PREPARE: 'no', ZENO_DB_LISTEN_URL: 'postgres://db-rw/app' }),
      (err: unknown) => err instanceof ConfigError && err.issues.map((i) => i.split(':')[0]).join() === 'ZENO_DB_LISTEN_URL,ZENO_DB_PREPARE',
    );
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://pooler/app', ZENO_DB_LISTEN_URL: 'postgres://db-rw/app' }).databaseListenUrl, 'postgres://db-rw/app');
  });

  it('refuses a liveness threshold that would restart the process before the database timeouts act', () => {
    assert.throws(
      () => loadConfig({ ZENO_DB_STATEMENT_TIMEOUT_MS: '90000', ZENO_DB_STALL_LIVENESS_MS: '60000' }),
      (err: unknown) => err instanceof ConfigError && err.issues.length === 1 && /ZENO_DB_STALL_LIVENESS_MS: must exceed .*90000 ms/.test(err.issues[0]!),
    );
  });
});
