// The token function alone in its own process, as `zenokube fn auth-token` runs its pod (boot,
// serve, drain on SIGTERM), for tests that signal it. Prints `listening <port>` once it answers.
import { serveFunction } from '#shared/function/serve';
import { bootPlatform, onShutdown } from '#shared/function/platform';
import token from '../token/function.js';

const platform = await bootPlatform();
const served = await serveFunction(token, platform);
process.stdout.write(`listening ${served.server.port}\n`);
onShutdown(platform.log, async () => {
  await served.stop();
  await platform.database.close();
});
