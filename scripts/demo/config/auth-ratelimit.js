'use strict';

// UP_RATELIMIT_CONFIG of the demo: users-permissions' ratelimit (/api/auth/local*, /api/connect/*, ...).
module.exports = require('./login-ratelimit')('rl:auth:');
