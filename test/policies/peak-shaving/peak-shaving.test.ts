import { decide } from '../../../policies/peak-shaving.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('peak-shaving', decide, import.meta.dirname);
