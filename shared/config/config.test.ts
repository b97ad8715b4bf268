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
});
