'use strict';

// Public read access to the related types, so `populate` of an article's author and tags is
// kept for anonymous callers (Strapi removes relations the caller may not `find`).
const PUBLIC_ACTIONS = ['api::author.author.find', 'api::author.author.findOne', 'api::tag.tag.find', 'api::tag.tag.findOne'];

const text = (seed, length) => {
  let out = '';
  for (let i = 0; out.length < length; i++) out += `${['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur'][(seed + i) % 6]} `;
  return out.slice(0, length).trim();
};

module.exports = {
  // Body: { articles = 20, authors = 5, tags = 8, tagsPerArticle = 3 }. Idempotent: a database
  // that already holds authors is left as it is. Answers with the counts it holds afterwards.
  async seed(ctx) {
    const { articles = 20, authors = 5, tags = 8, tagsPerArticle = 3 } = ctx.request.body || {};
    const existing = await strapi.documents('api::author.author').count();
    if (existing === 0) {
      const authorDocs = [];
      for (let i = 0; i < authors; i++) {
        authorDocs.push(await strapi.documents('api::author.author').create({ data: { name: `Author ${i}`, bio: text(i, 160) } }));
      }
      const tagDocs = [];
      for (let i = 0; i < tags; i++) tagDocs.push(await strapi.documents('api::tag.tag').create({ data: { name: `tag-${i}` } }));
      for (let i = 0; i < articles; i++) {
        await strapi.documents('api::article.article').create({
          data: {
            title: `Article ${i}`,
            body: text(i, 400),
            author: authorDocs[i % authors].documentId,
            tags: Array.from({ length: tagsPerArticle }, (_, j) => tagDocs[(i + j) % tags].documentId),
          },
        });
      }
    }
    const publicRole = await strapi.db.query('plugin::users-permissions.role').findOne({ where: { type: 'public' } });
    const permissions = strapi.db.query('plugin::users-permissions.permission');
    for (const action of PUBLIC_ACTIONS) {
      if (!(await permissions.findOne({ where: { action, role: publicRole.id } }))) await permissions.create({ data: { action, role: publicRole.id } });
    }
    ctx.body = {
      articles: await strapi.documents('api::article.article').count(),
      authors: await strapi.documents('api::author.author').count(),
      tags: await strapi.documents('api::tag.tag').count(),
    };
  },
};
