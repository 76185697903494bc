// Node-RED settings for `npm start`: a plain local demo, with no consent dialogs or tours in the way.
module.exports = {
  uiPort: Number(process.env.PORT) || 1880,
  flowFile: 'flows.json',
  // The demo flow has no credentials to protect.
  credentialSecret: false,
  telemetry: { enabled: false, updateNotification: false },
  editorTheme: { projects: { enabled: false }, tours: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
