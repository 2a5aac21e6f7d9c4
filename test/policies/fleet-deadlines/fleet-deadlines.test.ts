import { decide } from '../../../policies/fleet-deadlines.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('fleet-deadlines', decide, import.meta.dirname);
