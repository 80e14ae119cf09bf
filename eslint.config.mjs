// ESLint flat config: the recommended JavaScript and typescript-eslint rules, plus the project's
// naming rule (a central object is named for what it is, not `o`, `c`, `s` or `g`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'playground/**', 'coverage/**', 'etc/**', 'docs/**', '**/*.d.ts', 'bench/peer-app/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx,mts,mjs,js,cjs}'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        globalThis: 'readonly',
        window: 'readonly',
        document: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
        navigator: 'readonly',
        localStorage: 'readonly',
        requestAnimationFrame: 'readonly',
        ResizeObserver: 'readonly',
        HTMLElement: 'readonly',
        SVGSVGElement: 'readonly',
        Event: 'readonly',
        MouseEvent: 'readonly',
        KeyboardEvent: 'readonly',
      },
    },
    rules: {
      // names for central objects: `options`, `client`, `settings`, `state`. A warning: where the
      // type named the thing, scripts renamed it (TypeScript's rename); the rest are short lambda
      // parameters and loop variables a reader should still rename when touching them.
      'id-denylist': ['warn', 'o', 'c', 's', 'g'],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' },
      ],
      // koa2-ratelimit, Strapi and ioredis hand over untyped values at the boundaries
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-require-imports': 'off',
      // a let read by a closure before its one assignment (a lazily created registry) stays a let
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // tests read arbitrary JSON answers (Strapi, the admin API): `any` there is the honest type
    // CommonJS modules loaded by Strapi's require() (the bench's middleware)
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['tests/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
