// Answering one questionnaire: every question type the server defines (single, multiple,
// scale, number, text) with large controls; required questions checked before sending.
// The submit carries an Idempotency-Key kept per assignment until it succeeds, so a
// retry after a lost answer is the same submission; a 409 means it was already answered.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');
const validate = require('../../utils/validate');
const requests = require('../../utils/requests');
const storage = require('../../utils/storage');
const ids = require('../../utils/ids');
const subscribe = require('../../utils/subscribe');

const app = getApp();
const KEY_PREFIX = 'cp.qkey.';

function scaleSteps(q) {
  const out = [];
  const min = q.min === undefined ? 0 : q.min;
  const max = q.max === undefined ? 10 : q.max;
  for (let v = min; v <= max && out.length < 21; v++) out.push(v);
  return out;
}

// questionViews: the definition plus what has been chosen so far, in render-ready form.
function questionViews(def, answers, errors) {
  return def.items.map(function (q, i) {
    const a = answers[q.key];
    const chosen = [].concat(a === undefined ? [] : a).map(String);
    return {
      key: q.key, no: i + 1, type: q.type, text: q.text, required: q.required, unit: q.unit || '',
      maxLength: q.max_length || 500,
      options: (q.options || []).map(function (o) { return { value: o.value, label: o.label, on: chosen.indexOf(o.value) >= 0 }; }),
      steps: q.type === 'scale' ? scaleSteps(q).map(function (v) { return { v: v, on: chosen.indexOf(String(v)) >= 0 }; }) : [],
      value: a === undefined ? '' : String(a),
      error: (errors && errors[q.key]) || ''
    };
  });
}

Page({
  data: { loaded: false, title: '', source: '', answered: false, result: '', questions: [], submitting: false, canAnswer: false, error: '' },

  onLoad(q) {
    this.id = q && q.id;
    this.answers = {};
    this.errors = {};
    app.ready().then(() => this.load()).catch(() => {});
  },

  load() {
    return api.request('questionnaire', { params: { patientID: session.selectedPatientId(), assignmentID: this.id } })
      .then((a) => {
        this.def = a.questionnaire;
        wx.setNavigationBarTitle && wx.setNavigationBarTitle({ title: a.questionnaire.name });
        const answered = a.status === 'answered';
        if (answered) this.answers = Object.assign({}, a.answers || {});
        this.setData({
          loaded: true, title: a.questionnaire.name, source: a.questionnaire.source, answered,
          result: answered ? [a.band_name, a.score === null ? '' : '评分 ' + format.number(a.score, 0)].filter(Boolean).join(' · ') : '',
          canAnswer: !answered && session.can('report')
        });
        this.render();
      })
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  render() { this.setData({ questions: questionViews(this.def, this.answers, this.errors) }); },

  set(key, value) {
    if (!this.data.canAnswer) return;
    this.answers[key] = value;
    delete this.errors[key];
    this.render();
  },
  pick(e) { const d = e.currentTarget.dataset; this.set(d.key, String(d.value)); },
  toggle(e) {
    const d = e.currentTarget.dataset;
    const cur = [].concat(this.answers[d.key] || []);
    const i = cur.indexOf(String(d.value));
    if (i >= 0) cur.splice(i, 1); else cur.push(String(d.value));
    this.set(d.key, cur);
  },
  score(e) { const d = e.currentTarget.dataset; this.set(d.key, Number(d.value)); },
  onNumber(e) { this.answers[e.currentTarget.dataset.key] = e.detail.value; delete this.errors[e.currentTarget.dataset.key]; },
  onText(e) { this.answers[e.currentTarget.dataset.key] = e.detail.value; },

  submit() {
    if (this.data.submitting || !this.data.canAnswer) return Promise.resolve();
    const v = validate.questionnaire(this.def, this.answers);
    this.errors = v.errors;
    this.render();
    if (!v.ok) {
      this.setData({ error: '还有 ' + Object.keys(v.errors).length + ' 题需要补充，请看红色提示' });
      return Promise.resolve();
    }
    subscribe.ask(api, ['questionnaire_due']); // on the tap: the next follow-up questionnaire
    const keyName = KEY_PREFIX + this.id;
    let key = storage.get(keyName, '');
    if (!key) { key = ids.newId('q'); storage.set(keyName, key); }
    this.setData({ submitting: true, error: '' });
    return api.request('questionnaireAnswer', {
      params: { patientID: session.selectedPatientId(), assignmentID: this.id },
      data: requests.questionnaireAnswers(v.value), idempotencyKey: key
    }).then(() => {
      storage.remove(keyName);
      this.setData({ submitting: false });
      wx.showToast({ title: '已提交，谢谢', icon: 'success' });
      return this.load();
    }).catch((e) => {
      this.setData({ submitting: false });
      if (e && e.status === 409) { storage.remove(keyName); wx.showToast({ title: '这份问卷已经填写过了', icon: 'none' }); return this.load(); }
      api.showError(e);
      return null;
    });
  }
});
