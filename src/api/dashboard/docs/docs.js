'use strict';
fetch('config.json')
  .then((response) => response.json())
  .then((config) => SwaggerUIBundle({ url: config.openapi, dom_id: '#swagger', deepLinking: true }));
