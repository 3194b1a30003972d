// View models: pure functions from API responses to what the pages render. Pages stay
// thin; these are tested directly and against sample responses built from the spec.
const format = require('./format');

const TASK_STATUS = { done: '已完成', overdue: '已逾期', due: '今天要做', upcoming: '待完成', unscheduled: '待安排' };
const STAGE_STATE = { done: '已完成', current: '当前阶段', upcoming: '未开始' };
const CHANNEL = { phone: '电话随访', visit: '门诊复诊', online: '线上随访', questionnaire: '随访问卷' };
const OWNER = { patient: '我', cm: '个案管理师', doctor: '医生' };

function dueLabel(dueOn) {
  if (!dueOn) return '日期待定';
  const today = format.localDay();
  if (dueOn === today) return '今天';
  return format.formatShortDate(dueOn);
}

function taskView(t) {
  return {
    id: t.id,
    title: t.title,
    kind: t.kind,
    status: t.status,
    statusLabel: TASK_STATUS[t.status] || '',
    dueLabel: dueLabel(t.due_on),
    channelLabel: t.channel ? CHANNEL[t.channel] || '' : '',
    ownerLabel: OWNER[t.owner] || '',
    mine: t.owner === 'patient',
    canMarkDone: t.owner === 'patient' && t.status !== 'done' && t.kind === 'task'
  };
}

// nextAppointment: the soonest upcoming appointment that is still on (the list route
// returns upcoming ones in time order; cancelled ones, and a pathway proposal the case
// manager has not accepted, are skipped).
function nextAppointment(list) {
  const items = ((list && list.items) || []).filter(function (a) {
    return a.status !== 'cancelled' && a.status !== 'completed' && a.status !== 'no_show' && a.status !== 'proposed' &&
      format.toDate(a.starts_at) && format.toDate(a.starts_at).getTime() >= Date.now() - 3600000;
  }).sort(function (a, b) { return format.toDate(a.starts_at) - format.toDate(b.starts_at); });
  if (!items.length) return null;
  const a = items[0];
  return {
    id: a.id,
    title: a.title || a.kind_name || '复诊预约',
    when: format.formatDateTime(a.starts_at),
    place: [a.department, a.location].filter(Boolean).join(' · '),
    status: a.status,
    needsConfirm: a.status === 'scheduled'
  };
}

// homeModel turns GET /patients/{id}/home into the home page. A null section is one the
// person may not see (a relative without that scope) or that has nothing yet.
function homeModel(h) {
  h = h || {};
  const plan = h.plan || null;
  const out = { hasPlan: !!plan, stage: null, nextTask: null, nextTasks: [], unread: 0, eduUnread: 0, appointment: null, caseManager: null, readings: [] };
  if (plan) {
    const cs = plan.current_stage;
    out.stage = cs ? {
      name: cs.name,
      phase: format.phaseLabel(cs.phase),
      dayLabel: '第 ' + ((cs.day || 0) + 1) + ' 天',
      percent: plan.progress ? plan.progress.percent : 0,
      step: plan.progress ? plan.progress.stage_number + ' / ' + plan.progress.stage_count : '',
      pathway: plan.pathway ? plan.pathway.name : ''
    } : null;
    out.nextTasks = (plan.next_tasks || []).map(taskView);
    out.nextTask = out.nextTasks[0] || null;
    out.caseManager = plan.case_manager ? { name: plan.case_manager.name, contact: plan.case_manager.contact || '' } : null;
  }
  out.unread = h.unread_messages || 0;
  out.eduUnread = h.unread_education || 0;
  out.appointment = h.next_appointment ? nextAppointment({ items: [h.next_appointment] }) : null;
  out.readings = (h.latest_readings || []).map(function (o) {
    return { type: o.type, label: format.vitalLabel(o.type), text: latestReading({ latest: o }) };
  }).filter(function (r) { return r.text; });
  return out;
}

function timelineModel(plan) {
  if (!plan) return { stages: [], percent: 0 };
  const byStage = {};
  (plan.tasks || []).forEach(function (t) { (byStage[t.stage] = byStage[t.stage] || []).push(taskView(t)); });
  return {
    planId: plan.id,
    pathway: plan.pathway ? plan.pathway.name : '',
    percent: plan.progress ? plan.progress.percent : 0,
    stages: (plan.stages || []).map(function (s) {
      return {
        key: s.key, name: s.name, phase: format.phaseLabel(s.phase), state: s.state,
        stateLabel: STAGE_STATE[s.state] || '',
        startsLabel: s.starts_on ? format.formatDate(s.starts_on) : '日期待定',
        tasks: byStage[s.key] || []
      };
    })
  };
}

// messageItems turns a page of messages into chat bubbles. A kind=recall entry hides the
// recalled message's content; notes and transfers are shown as quiet system lines.
function messageItems(items, myUserId) {
  const sorted = (items || []).slice().sort(function (a, b) { return a.seq - b.seq; });
  const recalled = {};
  sorted.forEach(function (m) { if (m.kind === 'recall' && m.ref_id) recalled[m.ref_id] = true; });
  return sorted.filter(function (m) { return m.kind !== 'recall' && !m.internal; }).map(function (m) {
    const isRecalled = m.recalled || !!recalled[m.id];
    const mine = !!(m.sender && m.sender.kind === 'user' && m.sender.id === myUserId);
    let who = '';
    if (m.sender) {
      if (m.sender.kind === 'staff') who = m.sender.display_name || '个案管理师';
      else if (mine) who = '我';
      else who = m.sender.role === 'family' ? '家属' : '患者';
    }
    return {
      id: m.id, seq: m.seq, mine: mine, who: who,
      kind: isRecalled ? 'recalled' : (m.kind === 'image' ? 'image' : (m.kind === 'text' ? 'text' : 'system')),
      text: isRecalled ? (mine ? '你撤回了一条消息' : '对方撤回了一条消息') : (m.text || (m.kind === 'transfer' ? '会话已转交给另一位个案管理师' : '')),
      imageUrl: !isRecalled && m.image ? m.image.url : '',
      time: format.formatRelative(m.created_at),
      clientMsgId: m.client_msg_id || ''
    };
  });
}

// mergeMessages keeps one copy per seq (server messages) and drops a local pending bubble
// once the server echoes its client_msg_id.
function mergeMessages(existing, incoming) {
  const bySeq = {};
  const echoed = {};
  (incoming || []).forEach(function (m) { if (m.client_msg_id) echoed[m.client_msg_id] = true; });
  (existing || []).concat(incoming || []).forEach(function (m) {
    if (typeof m.seq === 'number') bySeq[m.seq] = m;
  });
  const pendingLocal = (existing || []).filter(function (m) { return typeof m.seq !== 'number' && !echoed[m.client_msg_id]; });
  return Object.keys(bySeq).map(function (k) { return bySeq[k]; })
    .sort(function (a, b) { return a.seq - b.seq; }).concat(pendingLocal);
}

// readByStaff: has any staff participant read up to my last message?
function readByStaff(thread, mySeq) {
  if (!thread || !mySeq) return false;
  return (thread.participants || []).some(function (p) { return p.kind === 'staff' && p.last_read_seq >= mySeq; });
}

function educationItems(feed) {
  return ((feed && feed.items) || []).map(function (it) {
    return {
      id: it.id,
      key: it.article ? it.article.key : '',
      title: it.article ? it.article.title : '',
      summary: it.article ? it.article.summary : '',
      minutes: it.article ? it.article.reading_minutes : 1,
      unread: !!it.unread,
      finished: !!it.finished_at,
      date: format.formatShortDate(it.assigned_at)
    };
  });
}

function familyModel(members, invitations) {
  return {
    members: ((members && members.items) || []).filter(function (m) { return m.status === 'active'; }).map(function (m) {
      return {
        id: m.id, relationship: m.relationship, scopes: m.scopes || [],
        scopeLabels: (m.scopes || []).map(format.scopeLabel).join('、'),
        since: format.formatDate(m.created_at)
      };
    }),
    invitations: ((invitations && invitations.items) || []).filter(function (i) { return i.status === 'pending'; }).map(function (i) {
      return { id: i.id, relationship: i.relationship, expires: format.formatDateTime(i.expires_at), scopeLabels: (i.scopes || []).map(format.scopeLabel).join('、') };
    })
  };
}

// latestReading describes a trend's latest observation in words (no colour-only cues).
function latestReading(trend) {
  const o = trend && trend.latest;
  if (!o || !o.components) return '';
  const c = {};
  o.components.forEach(function (x) { c[x.name] = x.value; });
  let v = '';
  if (o.type === 'blood_pressure') v = format.number(c.systolic, 0) + '/' + format.number(c.diastolic, 0) + ' mmHg';
  else if (o.type === 'glucose') v = format.number(c.glucose, 1) + ' mmol/L';
  else if (o.type === 'pain') v = format.number(c.score, 0) + ' 分';
  else if (o.type === 'weight') v = format.number(c.weight, 1) + ' 公斤';
  else if (o.type === 'temperature') v = format.number(c.temperature, 1) + ' ℃';
  else if (o.type === 'spo2') v = format.number(c.spo2, 0) + '%';
  else if (o.type === 'heart_rate') v = format.number(c.heart_rate, 0) + ' 次/分';
  return v ? '最近一次：' + v + '（' + format.formatRelative(o.measured_at) + '）' : '';
}

// guidanceView: what the server says to do after a reading (urgent first).
function guidanceView(result) {
  return ((result && result.guidance) || []).map(function (g) {
    return {
      title: g.title, severity: g.severity, urgent: g.severity === 'critical',
      actions: g.actions || [],
      contacts: (g.contacts || []).filter(function (c) { return c.phone; }).map(function (c) { return { name: c.name, phone: c.phone }; })
    };
  });
}

module.exports = {
  homeModel, timelineModel, taskView, nextAppointment, messageItems, mergeMessages, readByStaff,
  educationItems, familyModel, latestReading, guidanceView, TASK_STATUS
};
