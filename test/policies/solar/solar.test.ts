import { decide } from '../../../policies/solar.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('solar', decide, import.meta.dirname);
