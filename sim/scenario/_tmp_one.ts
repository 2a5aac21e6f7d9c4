import { runScenario } from './runner.js';
const t = performance.now();
const r = await runScenario(process.argv[2] ?? 'depot', {
  controllers: [(process.argv[3] ?? 'gridkeeper') as 'gridkeeper'],
  onProgress: (l) => {
    if (/exceeded|missed/.test(l)) console.error(l);
  },
});
console.log(JSON.stringify(r.controllers), Math.round(performance.now() - t), 'ms');
