import { describe, expect, it } from 'vitest';
import { runScenarioInWorkers } from '../../src/cli/scenario/parallel.js';

describe('scenario controllers in worker threads', () => {
  it('refuses an unknown scenario before starting a worker, naming the known ones', async () => {
    await expect(runScenarioInWorkers('nowhere')).rejects.toThrow(
      /unknown scenario "nowhere"; known: depot, hub, stress, dr-day/,
    );
  });
});
