import { decide } from '../../../policies/failsafe.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('failsafe', decide, import.meta.dirname);
