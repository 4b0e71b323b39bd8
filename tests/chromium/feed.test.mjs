import suite from '../suites/feed.mjs';

suite('chromium');
