const api = require('../../utils/api');

Page({
  data: { version: '', accepted: false },
  onLoad() {
    if (!api.isLoggedIn()) return;
    api.request('myConsents')
      .then((c) => this.setData({ version: c.privacy_policy.current_version, accepted: c.privacy_policy.accepted }))
      .catch(() => {});
  }
});
