/** The admission benchmark's baseline: a bare Fastify HTTPS route that parses and echoes the same body. */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [certFile = '', keyFile = '', port = '0'] = process.argv.slice(2);
const app = Fastify({
  https: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
  bodyLimit: 6 * 1_048_576,
});
app.post('/mutate', async (request) => request.body);
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('ready\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
