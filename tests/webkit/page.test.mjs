import suite from '../suites/page.mjs';

suite('webkit');
