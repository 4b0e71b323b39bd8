import suite from '../suites/deploy.mjs';

suite('webkit');
