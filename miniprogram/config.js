// The ONE configuration file of the CarePath mini-program.
// A hospital edits only this file (and the appid in project.config.json) before uploading.
module.exports = {
  // HTTPS origin of the CarePath server (must be a whitelisted request domain in production).
  apiBase: 'http://127.0.0.1:8080',
  // WebSocket endpoint (a whitelisted socket domain in production: wss://…/api/v1/ws).
  wsUrl: 'ws://127.0.0.1:8080/api/v1/ws',
  // Subscription-message template ids per push kind, from the mini-program admin console
  // (订阅消息 → 我的模板). Leave a kind empty to never ask for it.
  templates: {
    new_message: '',      // 新消息提醒（个案管理师回复）
    appointment: '',      // 复诊 / 预约提醒
    vitals_reminder: '',  // 测量提醒
    followup: '',         // 随访问卷提醒
    education: ''         // 健康宣教推送
  },
  // Development only: the login page offers demo logins that send `test-<name>~<timestamp>`
  // codes, which the embedded fake WeChat server accepts. MUST be false in an uploaded build.
  devMode: true,
  devUsers: [
    { name: 'patient1', label: '演示患者 1' },
    { name: 'patient2', label: '演示患者 2' },
    { name: 'family1', label: '演示家属' }
  ],
  // The hospital's time zone: all dates are shown in it.
  timeZone: 'Asia/Shanghai',
  utcOffsetMinutes: 480,
  // Hospital hotline shown on emergency guidance when the server gives none.
  hotline: ''
};
