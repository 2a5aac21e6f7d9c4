import { decide } from '../../../policies/load-management.js';
import { policyFixtures } from '../fixture-runner.js';

policyFixtures('load-management', decide, import.meta.dirname);
