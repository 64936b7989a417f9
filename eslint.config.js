// ESLint (flat config): typescript-eslint's recommended rules, and the layers of docs/architecture.md written down as
// import boundaries (import-x/no-restricted-paths) plus a cycle check (import-x/no-cycle). `npm run lint`; `npm test`
// runs it first.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Every top-level folder of src/ (a layer) and what it must never import. */
const LAYERS = {
  // the bottom: imports nothing of webvcm
  util: ['api', 'cli', 'client', 'coder', 'cpu', 'eval', 'gpu', 'io', 'model', 'serve', 'wasm', 'world'],
  // entropy coding, the container, image and array files: only util below them
  coder: ['api', 'cli', 'client', 'cpu', 'eval', 'gpu', 'io', 'model', 'serve', 'wasm', 'world'],
  io: ['api', 'cli', 'client', 'coder', 'cpu', 'eval', 'gpu', 'model', 'serve', 'wasm', 'world'],
  // graphs, op sets, weights: never a kernel (gpu, cpu) or anything above
  model: ['api', 'cli', 'client', 'cpu', 'eval', 'gpu', 'serve', 'wasm', 'world'],
  // backends: implement model's op sets; never the product layers
  gpu: ['api', 'cli', 'client', 'eval', 'serve', 'wasm', 'world'],
  cpu: ['api', 'cli', 'client', 'eval', 'gpu', 'serve', 'wasm', 'world'],
  wasm: ['api', 'cli', 'client', 'eval', 'gpu', 'serve', 'world'],
  // the library API: the one door the product layers use
  api: ['cli', 'client', 'eval', 'serve', 'world'],
  // the remote client: fetch/WebSocket, the container reader (rate control); of the API only the pure detections JSON
  client: ['cli', 'cpu', 'eval', 'gpu', 'io', 'serve', 'wasm', 'world'],
  // the server: through the API, never kernels, evaluation or the CLI
  serve: ['cli', 'coder', 'cpu', 'eval', 'gpu', 'wasm', 'world'],
  eval: ['cli', 'client', 'serve'],
  world: ['api', 'cli', 'client', 'coder', 'cpu', 'eval', 'gpu', 'model', 'serve', 'wasm'],
  // nothing imports the CLI (it imports anything)
  cli: [],
};

const zones = [
  ...Object.entries(LAYERS).flatMap(([layer, banned]) =>
    banned.map((b) => ({
      target: `./src/${layer}`,
      from: `./src/${b}`,
      message: `docs/architecture.md: src/${layer} must not import src/${b}`,
    })),
  ),
  {
    target: [
      ...Object.keys(LAYERS)
        .filter((l) => l !== 'cli')
        .map((l) => `./src/${l}`),
      './src/index.ts',
      './src/node.ts',
    ],
    from: './src/cli',
    message: 'docs/architecture.md: nothing imports the CLI',
  },
  {
    target: './src/client',
    from: './src/api',
    except: ['./detections-json.ts'],
    message: 'docs/architecture.md: the client takes only the pure detections JSON from the API (no GPU code in its bundle)',
  },
  // the library entry points (src/index.ts, src/node.ts) may export from any layer below the product
  {
    target: ['./src/index.ts', './src/node.ts'],
    from: ['./src/cli', './src/serve', './src/world'],
    message: 'the package entry exports the library, not the CLI or the server',
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'demo/dist/**',
      '.cache/**',
      'artifacts/**',
      'src/gpu/shaders.gen.ts',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.json'] })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-unresolved': ['error', { ignore: ['^virtual:', '\\?(raw|url)$'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
  {
    // tests, benchmarks and tools may reach any layer and use `any` for parsed fixtures
    files: ['test/**/*.ts', 'bench/**/*.ts', 'tools/**/*.ts', 'demo/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
