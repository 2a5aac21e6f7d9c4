import { decide } from '../../../policies/battery.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('battery', decide, import.meta.dirname);
