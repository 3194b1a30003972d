// The ONE configuration file of the CarePath mini-program.
// A hospital edits only this file (and the appid in project.config.json) before uploading.
module.exports = {
  // HTTPS origin of the CarePath server (must be a whitelisted request domain in production).
  apiBase: 'http://127.0.0.1:8080',
  // WebSocket endpoint (a whitelisted socket domain in production: wss://…/api/v1/ws).
  wsUrl: 'ws://127.0.0.1:8080/api/v1/ws',
  // Subscription-message template ids per push kind, from the mini-program admin console
  // (订阅消息 → 我的模板). The kinds are exactly the server's push kinds
  // (configs/notify/templates.yaml; the ids there and here must be the same templates).
  // Leave a kind empty to never ask for it.
  templates: {
    stage_begins: '',          // 护理计划进入新阶段
    appointment_reminder: '',  // 复诊 / 预约提醒
    cm_message: '',            // 个案管理师的新消息
    questionnaire_due: '',     // 随访问卷待填写
    education_ready: '',       // 新的健康资料
    reading_attention: '',     // 健康提醒（测量值需要关注）
    reporting_reminder: ''     // 测量上报提醒
  },
  // Optional: URL prefix registered under 扫普通链接二维码打开小程序 (page pages/family/accept),
  // e.g. 'https://carepath.hospital.example/invite/'. The family page's QR code then holds
  // prefix + invitation code and WeChat's own scanner opens the accept page. Empty: the QR
  // holds the code for the accept page's 扫码 button.
  inviteQrBase: '',
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
