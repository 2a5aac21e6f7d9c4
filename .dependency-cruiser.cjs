/**
 * The import direction of gridkeeper (docs/architecture.md), enforced in the
 * lint step (`npm run lint:imports`). Arrows point inward: the domain model
 * depends on nothing of ours, policies only on the model, the core never on
 * the outer rings, adapters only on the model, utilities and port
 * interfaces, and the simulators on nothing of the gateway but model types,
 * so that a codec bug can never be confirmed by its own simulator.
 */
const OURS = '^(src|adapters|policies|sim|bench|test)/';
module.exports = {
  forbidden: [
    {
      name: 'model-is-innermost',
      comment: 'src/model imports nothing of ours outside itself.',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: OURS, pathNot: '^src/model/' },
    },
    {
      name: 'policies-are-pure',
      comment: 'policies/ see only the domain model (and each other): no I/O, no core, no adapters.',
      severity: 'error',
      from: { path: '^policies/' },
      to: { path: OURS, pathNot: '^(policies|src/model)/' },
    },
    {
      name: 'core-never-imports-outer-rings',
      comment: 'Nothing in src/ but the composition root (src/cli) imports policies, adapters, simulators or the CLI.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^(policies|adapters|sim|bench|test|src/cli)/' },
    },
    {
      name: 'adapters-see-ports-only',
      comment:
        'adapters/ import from src/ only src/model, src/util and the port interfaces in src/ports; never concrete core classes, policies or simulators.',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^(src/(?!model/|util/|ports/)|policies/|sim/|bench/|test/)' },
    },
    {
      name: 'simulators-are-independent-peers',
      comment:
        'sim/ speaks the protocols with its own codecs or npm libraries; of the gateway it may import model types only.',
      severity: 'error',
      from: { path: '^sim/' },
      to: { path: '^(src/(?!model/)|adapters/|policies/|bench/|test/)' },
    },
    {
      name: 'sim-imports-model-types-only',
      comment: 'What sim/ takes from src/model is types, never behaviour.',
      severity: 'error',
      from: { path: '^sim/' },
      to: { path: '^src/model/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'bench-peers-are-independent',
      comment:
        'The bench peers (meter, chargers, CMS in bench/peers) speak the protocols with their own codecs and npm libraries and import nothing of the gateway, so a gateway bug cannot be confirmed by its own peer.',
      severity: 'error',
      from: { path: '^bench/peers/' },
      to: { path: '^(src|adapters|policies|sim|test)/' },
    },
    {
      name: 'nothing-imports-tests',
      severity: 'error',
      from: { path: '^(src|adapters|policies|sim|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular-through-model',
      comment: 'Cycles are allowed inside a component but never through the domain model.',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^node_modules|^dist/|\\.d\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
