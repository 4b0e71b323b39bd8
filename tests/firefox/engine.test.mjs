import suite from '../suites/engine.mjs';

suite('firefox');
