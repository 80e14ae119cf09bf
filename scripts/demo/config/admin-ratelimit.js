'use strict';

// ADMIN_RATELIMIT_CONFIG of the demo: config/admin rateLimit (/admin/login, /admin/register-admin, ...).
module.exports = require('./login-ratelimit')('rl:admin:');
