'use strict';

const path = require('node:path');

module.exports = ({ env }) => ({
  connection: {
    client: 'sqlite',
    connection: {
      // Relative to this app's own folder, so every app copy has its own database.
      filename: path.resolve(__dirname, '..', env('DATABASE_FILENAME', path.join('.tmp', 'data.db'))),
    },
    useNullAsDefault: true,
  },
});
