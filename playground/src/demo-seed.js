'use strict';

// The demo's data (`npm run demo`): PLAYGROUND_DEMO_SEED names a JSON file of authors, tags and
// articles (scripts/demo/seed.json). Written through the document service into an empty database
// only; authors and tags become publicly readable, so articles can populate them.
const fs = require('node:fs');

const PUBLIC_ACTIONS = ['api::author.author.find', 'api::author.author.findOne', 'api::tag.tag.find', 'api::tag.tag.findOne'];

module.exports = async function seedDemo(strapi, file) {
  const seed = JSON.parse(fs.readFileSync(file, 'utf8'));
  if ((await strapi.documents('api::article.article').count()) === 0) {
    const authors = [];
    for (const data of seed.authors) authors.push(await strapi.documents('api::author.author').create({ data }));
    const tags = [];
    for (const data of seed.tags) tags.push(await strapi.documents('api::tag.tag').create({ data }));
    for (const { author, tags: tagIndexes, ...data } of seed.articles) {
      await strapi.documents('api::article.article').create({
        data: { ...data, author: authors[author].documentId, tags: tagIndexes.map((i) => tags[i].documentId) },
      });
    }
  }
  const publicRole = await strapi.db.query('plugin::users-permissions.role').findOne({ where: { type: 'public' } });
  const permissions = strapi.db.query('plugin::users-permissions.permission');
  for (const action of PUBLIC_ACTIONS) {
    if (!(await permissions.findOne({ where: { action, role: publicRole.id } }))) await permissions.create({ data: { action, role: publicRole.id } });
  }
};
