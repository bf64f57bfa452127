// Words of the dashboard in Chinese and English, and how numbers, dates and times are shown
// in the chosen language. Every user-facing word comes from here: a key missing in one
// language shows the key (the browser tests look for such leaks).

const WORDS = {
  // shell
  app: ["meterlink 采集主站", "meterlink metering"],
  nav_report: ["采集报表", "Collection report"], nav_failed: ["失败清单", "Failed meters"],
  nav_anomalies: ["异常处理", "Anomalies"], nav_lineloss: ["线损分析", "Line loss"],
  nav_gateways: ["集中器", "Concentrators"], nav_archive: ["档案", "Archive"],
  nav_commands: ["命令记录", "Commands"], nav_admin: ["系统管理", "Administration"], search_ph: ["表号/地址/户名/户号", "meter id, address, customer, account"],
  search: ["查询", "Search"], logout: ["退出", "Sign out"], change_password: ["修改密码", "Change password"],
  role_admin: ["管理员", "administrator"], role_operator: ["操作员", "operator"], role_viewer: ["查看员", "viewer"],
  loading: ["加载中…", "Loading…"], retry: ["重试", "Retry"], refreshed: ["已刷新", "refreshed"],
  auto_refresh: ["每{n}秒自动刷新", "refreshes every {n} s"], none: ["无数据", "nothing"],
  prev: ["上一页", "Previous"], next: ["下一页", "Next"], rows_of: ["共 {n} 条，第 {a}–{b} 条", "{a}–{b} of {n}"],
  export_xlsx: ["导出 Excel", "Export XLSX"], export_csv: ["导出 CSV", "Export CSV"],
  all: ["全部", "all"], yes: ["是", "yes"], no: ["否", "no"], cancel: ["取消", "Cancel"], ok: ["确定", "OK"],
  save: ["保存", "Save"], apply: ["应用", "Apply"], reset: ["重置", "Reset"], details: ["技术细节", "technical details"],
  // sign-in
  signin: ["登录", "Sign in"], username: ["用户名", "User name"], password: ["密码", "Password"],
  err_credentials: ["用户名或密码错误。", "Wrong user name or password."],
  err_locked: ["登录失败次数过多，账号暂时锁定，请稍后再试或联系管理员。", "Too many failed sign-ins: the account is locked for a while; try later or ask an administrator."],
  err_session: ["登录已过期，请重新登录。", "Your session has ended; please sign in again."],
  err_forbidden: ["您的角色无权执行此操作。", "Your role may not do this."],
  err_not_found: ["未找到所请求的记录。", "The record asked for does not exist."],
  err_conflict: ["操作与当前状态冲突（可能已被他人处理），请刷新后再试。", "This conflicts with the record's current state (someone may have handled it); reload and try again."],
  err_invalid: ["输入有误：", "Invalid input: "], err_rate: ["请求过于频繁，请稍后再试。", "Too many requests; try again shortly."],
  err_server: ["服务器出错，请稍后再试或联系管理员。", "The server failed; try again later or ask an administrator."],
  err_busy: ["服务器繁忙，请稍后再试。", "The server is busy; try again in a moment."],
  err_network: ["无法连接服务器，请检查网络。", "Cannot reach the server; check the network."],
  err_common_password: ["新密码太常见，请换一个。", "The new password is too common; choose another."],
  err_wrong_current: ["当前密码不正确。", "The current password is wrong."],
  // change password
  current_password: ["当前密码", "Current password"], new_password: ["新密码", "New password"],
  password_changed: ["密码已修改；其他设备上的登录已失效。", "Password changed; sessions on other devices are signed out."],
  password_rules: ["至少12个字符，不能是常见密码。", "At least 12 characters, not a common password."],
  // collection report
  report_title: ["采集成功率报表", "Collection success report"], day: ["日报", "Day"], month: ["月报", "Month"],
  date: ["日期", "Date"], month_pick: ["月份", "Month"],
  covers_month: ["统计 {a} 至 {b}：已结束的 {n} 天（本月共 {m} 天）", "covers {a} to {b}: the {n} closed days (of {m} in the month)"],
  covers_whole: ["统计 {a} 至 {b}：全月 {n} 天", "covers {a} to {b}: the whole month, {n} days"], group_by: ["统计维度", "Group by"],
  by_all: ["全单位", "Whole organisation"], by_org: ["供电所", "Supply station"], by_area: ["台区", "Area"],
  by_gateway: ["集中器", "Concentrator"], by_protocol: ["规约", "Protocol"], by_customer_class: ["用户类别", "Customer class"],
  rate: ["成功率", "Rate"], first_pass: ["首抄成功率", "First-pass rate"], after_reread: ["补抄后成功率", "Rate after re-reading"],
  due: ["应抄", "Due"], read: ["实抄", "Read"], failed_n: ["失败", "Failed"], threshold: ["考核线", "Threshold"],
  below: ["低于考核线", "below threshold"], group: ["分组", "Group"], prev_period: ["上期", "Previous period"],
  change: ["环比", "Change"], trend30: ["近30天采集成功率", "Success rate, last 30 days"],
  curve_complete: ["曲线完整率（96点）", "Curve completeness (96 points)"], meters: ["电表数", "Meters"], meter_table: ["电表", "Meters"],
  points: ["点数", "Points"], expected: ["应有点数", "Expected"], complete_meters: ["完整电表", "Complete meters"],
  reread_tally: ["补抄：下发 {r} 表日，补回 {c} 表日", "Re-reading: {r} meter-days asked, {c} recovered"],
  drill: ["查看失败电表", "Failed meters"], org_rate: ["全单位成功率", "Organisation rate"],
  pp: ["个百分点", "points"], change_pp: ["环比（百分点）", "Change (points)"], read_first: ["首抄实抄", "Read first pass"],
  // failed meters
  failed_title: ["采集失败清单", "Failed meters"], meter: ["电表", "Meter"], area: ["台区", "Area"],
  gateway: ["集中器", "Concentrator"], protocol: ["规约", "Protocol"], customer_class: ["用户类别", "Customer class"],
  reason: ["失败原因", "Reason"], category: ["原因分类", "Category"], last_good: ["最后成功", "Last good"],
  days_failed: ["连续失败天数", "Days failed in a row"], reread_state: ["补抄结果", "Re-read outcome"],
  reread: ["补抄", "Re-read"], reread_selected: ["补抄所选", "Re-read selected"], select_all: ["全选", "Select all"],
  read_now: ["召测", "Read now"], requested: ["已下发补抄", "Re-read requested"],
  already_pending: ["补抄已在进行（未重复下发）", "Re-read already pending (not asked twice)"],
  reread_result: ["补抄下发结果：新下发 {r} 个，已在进行 {p} 个", "Re-read: {r} requested now, {p} already pending"],
  no_reread: ["未补抄", "not re-read"], filters: ["筛选", "Filters"], customer: ["户名", "Customer"],
  // reason categories
  cat_gateway_offline: ["集中器离线", "Concentrator offline"], cat_meter_silent: ["电表不应答", "Meter not answering"],
  cat_wrong_answers: ["应答错误", "Wrong answers"], cat_not_rereadable: ["规约不支持补抄", "Protocol cannot re-read"],
  cat_archive: ["档案问题", "Archive problem"], cat_other: ["其他（如未收到读数）", "Other (e.g. no reading received)"], cat_no_reading: ["未收到读数", "No reading received"],
  // command / re-read statuses
  st_pending: ["待下发", "not yet sent"], st_sent: ["进行中", "sent, awaiting answer"], st_ok: ["成功", "done"], st_partial: ["部分成功", "partly done"],
  st_error: ["失败", "failed"], st_expired: ["超时", "expired"], st_recovered: ["已补回", "recovered"],
  // the command history (命令记录)
  commands_title: ["命令记录", "Command history"], cmd_name: ["命令", "Command"], start_day: ["开始日期", "From"], end_day: ["结束日期", "To"],
  cmd_read_now: ["召测", "Read now"], cmd_backfill: ["补抄", "Re-read"], cmd_backfill_curve: ["曲线补抄", "Curve re-read"],
  cmd_time_sync: ["校时", "Time sync"], cmd_rediscover: ["重新搜表", "Rediscover meters"], cmd_reload_config: ["重载配置", "Reload configuration"],
  cmd_items: ["电表日数", "Meter-days"], cmd_outcome: ["结果", "Outcome"], cmd_sent: ["下发时间", "Sent"], cmd_id: ["命令编号", "Command ID"],
  sum_read: ["已抄到", "read"], sum_readings: ["读数", "readings"], sum_points: ["曲线点数", "points"], sum_failed: ["失败", "failed"],
  sum_time_set: ["已校时", "time set"], sum_max_offset_s: ["最大时差（秒）", "largest offset (s)"],
  commands_of_gateway: ["该集中器的命令记录", "This concentrator's commands"], commands_of_meter: ["该表的命令记录", "This meter's commands"],
  // the curve re-read (曲线补抄)
  curve_reread: ["曲线补抄", "Curve re-read"], curve_reread_title: ["可补抄的曲线（DL/T 698.45 电表，近 {n} 天）", "Curves that can be re-read (DL/T 698.45 meters, last {n} days)"],
  curve_reread_all: ["曲线补抄（{n} 块表）", "Re-read curves ({n} meters)"], curve_points: ["曲线点数", "Curve points"],
  curve_reread_done: ["曲线补抄已下发：新下发 {r} 个，已在进行 {p} 个", "Curve re-read: {r} requested now, {p} already pending"],
  curve_reread_outcome: ["查看曲线补抄命令结果", "See the curve re-read commands' outcome"],
  curve_reread_none: ["该日没有可补抄的曲线。", "No curve of that day can be re-read."],
  curve_reread_more: ["（共 {n} 块，仅列出前 {m} 块）", "({n} in all, the first {m} listed)"],
  curve_missing: ["该日曲线缺 {n} 点", "{n} points of this day's curve are missing"],
  print: ["打印", "Print"], printed_scope: ["范围", "Scope"], printed_at: ["打印时间", "Printed"],
  // anomalies
  anomalies_title: ["异常档案", "Anomalies"], rule: ["规则", "Rule"], status: ["状态", "Status"],
  first: ["首次", "First"], last: ["最近", "Last"], actions: ["操作", "Actions"], assignee: ["处理人", "Assigned to"], my_queue: ["我的待办", "My queue"],
  months_tab: ["多月对比", "Months"], months_title: ["采集成功率多月对比", "Collection rate, months side by side"],
  months_to: ["截至", "Up to"], months_n: ["月数", "Months"], months_chart: ["各月成功率", "Rate by month"],
  months_legend: ["每格：补抄后成功率，下方小字为首抄成功率；红色低于考核线 {th}；* 本月未结束，只计已过去的日子。", "Each cell: the rate after re-reading, the first-pass rate below it; red is under the {th} threshold; * a month not over yet counts its past days only."],
  months_partial: ["{m} 计 {n} 天。", "{m} counts {n} days."],
  alert_offline: ["离线集中器 {n} 台", "Concentrators off line: {n}"], alert_offline_all: ["查看全部离线集中器", "all off line"],
  confirm: ["确认", "Confirm"], dismiss: ["排除", "Dismiss"], close: ["关闭", "Close"], reopen: ["重新打开", "Reopen"],
  s_open: ["待处理", "open"], s_confirmed: ["已确认", "confirmed"], s_dismissed: ["已排除", "dismissed"], s_closed: ["已关闭", "closed"],
  comment: ["处理意见", "Comment"], comment_needed: ["请填写处理意见。", "Please write a comment."],
  detail: ["详情", "Detail"], evidence: ["证据", "Evidence"], history: ["处理记录", "History"], assign: ["指派", "Assign"],
  assign_to: ["指派给", "Assign to"], batch: ["批量处理所选", "Selected:"], stats: ["统计", "Statistics"],
  open_by_rule: ["未关闭异常（按规则）", "Open anomalies by rule"], from: ["起始日期", "From"], to: ["截止日期", "To"],
  register: ["示数", "Register"], consumption: ["日用电量", "Daily consumption"], params: ["参数", "Parameters"],
  created: ["生成", "created"], new_30d: ["新增", "New"], when: ["时间", "When"], who: ["操作人", "By"], what: ["操作", "Action"], n_selected: ["已选 {n} 条", "{n} selected"],
  // line loss
  lineloss_title: ["台区线损", "Line loss by area"], supply: ["供电量", "Supply"], sales: ["售电量", "Sales"],
  loss: ["线损率", "Loss"], loss_high: ["高损", "high loss"], loss_negative: ["负损", "negative loss"],
  loss_ok: ["合格", "normal"], not_computable: ["不可计算", "not computable"], blocking: ["缺数电表", "Meters blocking it"],
  suspects: ["窃电嫌疑用户", "Theft suspects"], loss_trend: ["线损率趋势", "Loss trend"], high_limit: ["高损线", "High-loss limit"],
  implausible: ["不合理读数", "Implausible"], recent: ["近期日均用电", "Recent daily kWh"], baseline: ["此前日均用电", "Earlier daily kWh"], suspect_reason: ["嫌疑依据", "Why"], score: ["嫌疑度", "Score"],
  // gateways
  gateways_title: ["集中器", "Concentrators"], online: ["在线", "Online"], online_rate: ["在线率", "Online rate"],
  last_seen: ["最后通信", "Last communication"], outbox: ["缓存数据", "Outbox"], version: ["版本", "Version"],
  offline: ["离线", "offline"], is_online: ["在线", "online"], name: ["名称", "Name"], bus: ["总线", "Bus"], commands: ["命令", "Commands"],
  time_sync: ["校时", "Time sync"], not_reported: ["集中器未上报", "not reported by the concentrator"], failures: ["连续失败次数", "Failures in a row"],
  ms_ok: ["正常", "ok"], ms_failing: ["抄读失败", "failing"], ms_dead: ["停止重试", "given up"], transactions: ["通信次数", "Transactions"], timeouts: ["超时", "Timeouts"],
  checksum_errors: ["校验错误", "Checksum errors"], meters_ok: ["正常电表", "Meters OK"], meters_failing: ["失败电表", "Meters failing"], failing_meters: ["失败电表", "Failing meters"],
  // meter page
  meter_title: ["电表", "Meter"], archive_card: ["档案", "Archive"], address: ["通信地址", "Address"],
  ct_pt: ["CT/PT", "CT/PT"], installed_on: ["安装日期", "Installed on"], phases: ["相数", "Phases"],
  customer_address: ["用电地址", "Customer address"], account: ["户号", "Account"], master: ["台区总表", "Area master meter"],
  data_date: ["数据日期", "Data date"], day_kwh: ["当日用电量", "Consumption that day"],
  load_curve: ["负荷曲线（有功功率）", "Load curve (active power)"], no_curve: ["当日无曲线数据", "no curve data that day"],
  phase_v: ["分相电压", "Voltage per phase"], phase_i: ["分相电流", "Current per phase"], phase_p: ["分相有功功率", "Active power per phase"],
  daily: ["日用电量（按费率）", "Daily consumption by tariff"], freeze_day: ["日冻结读数（所选数据日期）", "Daily freeze (chosen data date)"],
  raw: ["曲线、瞬时与事件读数（所选日期）", "Interval, instant and event readings (chosen day)"],
  raw_none: ["当日没有曲线、瞬时或事件读数；日冻结读数见上。", "No interval, instant or event readings that day; the daily freeze is above."],
  events: ["事件记录", "Meter events"], events_window: ["所选日期及之前30天", "the chosen day and the 30 days before"],
  latest: ["最新读数", "Latest values"], time: ["时间", "Time"], quantity: ["数据项", "Quantity"], value: ["值", "Value"],
  unit: ["单位", "Unit"], kind: ["类型", "Kind"], source: ["来源", "Source"], quality: ["质量标志", "Quality"],
  unverified_tip: ["该电表带ESAM，此值以明文+MAC返回：MAC只有电力公司的安全模块能验证，本系统未验证。MAC {mac}，随机数 {rn}",
    "This meter holds an ESAM and returned the value as plaintext + MAC: only the utility's security module can verify the MAC; it has not been verified here. MAC {mac}, RN {rn}"],
  meter_anomalies: ["该表异常", "This meter's anomalies"], read_now_title: ["召测", "On-demand read"],
  read_now_sent: ["召测命令已下发（{id}），等待集中器应答…", "Read command queued ({id}); waiting for the concentrator…"],
  read_now_done: ["召测完成", "Read done"], read_now_failed: ["召测失败", "Read failed"], read_now_expired: ["召测超时：集中器未应答", "Read expired: no answer from the concentrator"],
  // archive
  archive_title: ["档案与组织", "Archive and organisation"], org_tree: ["组织结构", "Organisation"], area_list: ["台区列表", "Areas"],
  batches_title: ["补抄批次", "Re-read batches"], batch: ["批次", "Batch"], requested_by: ["发起人", "Requested by"],
  requested_at: ["发起时间", "Requested at"], items_n: ["条数", "Items"], outcome: ["结果", "Outcome"], day_reread: ["补抄日期", "Day re-read"],
  why_not: ["未抄到原因", "Why not read"], command: ["命令", "Command"], finished: ["完成时间", "Finished"],
  o_read: ["已抄到", "read"], o_pending: ["待下发", "not yet sent"], o_sent: ["进行中", "sent, awaiting answer"], o_failed: ["未抄到", "failed"], o_expired: ["超时", "expired"],
  o_not_rereadable: ["不可补抄", "not re-readable"], areas_served: ["服务台区", "Areas served"],
  n_meters: ["{n} 块表", "{n} meters"],
  search_title: ["查询结果", "Search results"], no_match: ["未找到匹配的电表。", "No meter matches."],
  // admin
  admin_title: ["系统管理", "Administration"], users: ["用户", "Users"], rule_params: ["规则参数", "Rule parameters"],
  audit: ["审计日志", "Audit log"], quarantine: ["隔离数据", "Quarantine"], dead_letters: ["死信", "Dead letters"],
  conflicts: ["冲突读数", "Conflicts"], role: ["角色", "Role"], active: ["启用", "Active"], last_login: ["最后登录", "Last login"],
  display_name: ["姓名", "Name"], range: ["范围", "Range"], default: ["默认值", "Default"], in_force: ["当前值", "In force"],
  saved: ["已保存", "Saved"], actor: ["操作人", "Actor"], action: ["操作类型", "Action"], entity: ["对象类型", "Record type"],
  entity_id: ["对象编号", "Record"], changes: ["变更内容", "Changes"], received: ["接收时间", "Received"], topic: ["主题", "Topic"],
  error: ["错误", "Error"], admin_only: ["仅管理员可访问此页面。", "Only administrators can open this page."],
  create_user: ["新建用户", "New user"], unlock: ["解锁", "Unlock"],
  // keeping the archive (administrators): import, template, a meter's corrections
  imp_title: ["导入档案", "Import archive"], imp_template: ["下载导入模板", "Download import template"],
  imp_hint: ["从营销系统导出的 CSV 或 Excel（.xlsx）文件，表头可用中文或英文列名（见模板）；必填：电表资产号、通信地址、规约、安装日期。全部检查通过才导入，有任何一处问题则一条都不导入。",
    "A CSV or Excel (.xlsx) file from the customer system, headed with Chinese or English column names (see the template); required: meter id, address, protocol, installation date. All or nothing: one problem and nothing is imported."],
  imp_file: ["文件", "File"], imp_go: ["检查并导入", "Check and import"], imp_pick: ["请选择文件。", "Choose a file."],
  imp_type: ["只接受 .csv 或 .xlsx 文件。", "Only .csv or .xlsx files."], imp_size: ["文件超过 {n} MB。", "The file is over {n} MB."],
  imp_running: ["正在检查并导入…", "Checking and importing…"],
  imp_done: ["已导入 {n} 块表：新建 {c}，更新 {u}。", "Imported {n} meters: {c} new, {u} updated."],
  imp_refused: ["未导入：文件中有 {n} 处问题，请改正后重新导入。", "Nothing imported: the file has {n} problems; correct them and import again."],
  imp_first: ["下面列出前 {n} 处。", "The first {n} are listed."],
  imp_file_refused: ["未导入：无法读取该文件。", "Nothing imported: the file cannot be read."],
  imp_required: ["必填，不能为空", "required"], imp_unknown: ["无法识别的列名", "unknown column"],
  imp_missing: ["缺少必需的列", "required column missing"], imp_duplicate: ["与第 {n} 行的电表重复", "duplicate of row {n}"],
  imp_before_install: ["拆除日期早于安装日期", "before the installation date"],
  imp_address: ["通信地址应为12位数字，实际为 {a}", "expected 12 digits, got {a}"],
  imp_protocol: ["规约应为 2007、1997、698.45 或 modbus，实际为 {a}", "expected 2007, 1997, 698.45 or modbus, got {a}"],
  imp_date: ["日期应为 YYYY-MM-DD 格式，实际为 {a}", "expected a date YYYY-MM-DD, got {a}"],
  imp_bool: ["应为“是”或“否”，实际为 {a}", "expected yes/no, got {a}"], imp_phases: ["相数应为 1 或 3，实际为 {a}", "expected 1 or 3, got {a}"],
  imp_class: ["用户类别应为 居民、商业、工业、农业 或 其他，实际为 {a}", "unknown customer class {a}"],
  imp_number: ["应为数字，实际为 {a}", "expected a number, got {a}"],
  imp_range: ["{a} 超出范围：须{op} {lo} 且不大于 {hi}", "{a} is out of range"], imp_long: ["{a} 个字符，最多 {b} 个", "{a} characters: at most {b}"],
  row: ["行号", "Row"], column: ["列", "Column"], imp_problem: ["问题", "Problem"],
  edit_archive: ["编辑档案", "Edit archive"], edit_saved: ["档案已保存（已记入审计日志）。", "Archive saved (recorded in the audit log)."],
  edit_nothing: ["没有改动。", "Nothing changed."], edit_ratio: ["CT、PT 变比须为正数。", "CT and PT ratios must be positive numbers."],
  edit_hint: ["通信地址和规约不在此修改：换表请新建电表并填写“替换表号”。清空一项即删除该项。", "Address and protocol are not changed here: a replaced meter is a new meter naming the one it replaces. An emptied field is cleared."],
  f_customer_name: ["户名", "Customer name"], f_customer_account: ["户号", "Account"], f_customer_phone: ["联系电话", "Phone"],
  f_customer_address: ["用电地址", "Customer address"], f_customer_class: ["用户类别", "Customer class"], f_area_id: ["台区编号", "Area id"],
  f_gateway_id: ["集中器编号", "Concentrator id"], f_bus: ["端口", "Bus"], f_ct_ratio: ["CT变比", "CT ratio"], f_pt_ratio: ["PT变比", "PT ratio"],
  f_contracted_kw: ["合同容量 (kW)", "Contracted power (kW)"], f_removed_on: ["拆除日期", "Removed on"],
};
// codes the server sends, by family: [中文, English]
const CODES = {
  protocol: {"dlt645-2007": ["DL/T 645-2007", "DL/T 645-2007"], "dlt645-1997": ["DL/T 645-1997", "DL/T 645-1997"], modbus: ["Modbus", "Modbus"], dlt698: ["DL/T 698.45", "DL/T 698.45"]},
  customer_class: {residential: ["居民", "residential"], commercial: ["一般工商业", "commercial"], industrial: ["大工业", "industrial"],
    agricultural: ["农业", "agricultural"], other: ["其他", "other"]},
  quantity: {
    energy_combined_total: ["组合有功总电能", "Combined active energy"], energy_import_total: ["正向有功总电能", "Import active energy"],
    energy_import_t1: ["正向有功尖电能", "Import energy T1 (sharp)"], energy_import_t2: ["正向有功峰电能", "Import energy T2 (peak)"],
    energy_import_t3: ["正向有功平电能", "Import energy T3 (flat)"], energy_import_t4: ["正向有功谷电能", "Import energy T4 (valley)"],
    energy_export_total: ["反向有功总电能", "Export active energy"], energy_export_t1: ["反向有功尖电能", "Export energy T1"],
    energy_export_t2: ["反向有功峰电能", "Export energy T2"], energy_export_t3: ["反向有功平电能", "Export energy T3"],
    energy_export_t4: ["反向有功谷电能", "Export energy T4"], energy_reactive_1_total: ["一象限无功电能", "Reactive energy Q1"],
    energy_reactive_2_total: ["二象限无功电能", "Reactive energy Q2"], max_demand_import: ["正向有功最大需量", "Maximum demand (import)"],
    voltage_a: ["A相电压", "Voltage A"], voltage_b: ["B相电压", "Voltage B"], voltage_c: ["C相电压", "Voltage C"],
    current_a: ["A相电流", "Current A"], current_b: ["B相电流", "Current B"], current_c: ["C相电流", "Current C"],
    power_active_total: ["总有功功率", "Active power"], power_active_a: ["A相有功功率", "Active power A"],
    power_active_b: ["B相有功功率", "Active power B"], power_active_c: ["C相有功功率", "Active power C"],
    power_reactive_total: ["总无功功率", "Reactive power"], power_apparent_total: ["总视在功率", "Apparent power"],
    pf_total: ["总功率因数", "Power factor"], pf_a: ["A相功率因数", "Power factor A"], pf_b: ["B相功率因数", "Power factor B"],
    pf_c: ["C相功率因数", "Power factor C"], frequency: ["电网频率", "Frequency"], power_down_count: ["掉电次数", "Power-down count"],
    cover_open_count: ["开表盖次数", "Cover-open count"], clock_offset: ["时钟偏差", "Clock offset"],
  },
  kind: {interval: ["曲线", "interval"], freeze: ["日冻结", "daily freeze"], event: ["事件", "event"], clock: ["校时检查", "clock check"],
    instant: ["瞬时", "instant"]},
  source: {scheduled: ["定时", "scheduled"], backfill: ["补抄", "re-read"], on_demand: ["召测", "on demand"], terminal: ["终端冻结", "terminal freeze"]},
  quality: {late: ["迟到", "late"], clock_suspect: ["时钟存疑", "clock suspect"], degraded: ["逐项读取", "read item by item"],
    unverified: ["未验证 (ESAM MAC)", "not verified (ESAM MAC)"]},
  evidence: {current: ["本次示数", "current register"], previous: ["上次示数", "previous register"], days: ["天数", "days"],
    value: ["示数", "register"], supply: ["供电量", "supply"], sales: ["售电量", "sales"], loss: ["线损率", "loss"],
    delta: ["用电量", "consumption"], kwh: ["电量", "energy"], offset_s: ["时钟偏差（秒）", "clock offset (s)"],
    ratio: ["比值", "ratio"], count: ["次数", "count"]},
  param: {tolerance_kwh: ["容差", "tolerance"], min_kwh: ["最小电量", "minimum energy"], days: ["天数", "days"], min_kw: ["最小功率", "minimum power"],
    factor: ["倍数", "factor"], history_days: ["参考天数", "history days"], min_history_days: ["最少参考天数", "minimum history days"],
    max_offset_s: ["最大时钟偏差", "largest clock offset"], ratio: ["比例", "ratio"], min_current_a: ["最小电流", "minimum current"],
    max_current_a: ["最大电流", "largest current"], max_ratio: ["线损率上限", "highest loss ratio"], min_ratio: ["线损率下限", "lowest loss ratio"]},
  action: {"sign_in": ["登录", "sign-in"], "sign_in_failed": ["登录失败", "failed sign-in"], "anomaly.status": ["异常状态变更", "anomaly status"], "anomaly.assign": ["异常指派", "anomaly assigned"],
    "command.queued": ["下发命令", "command queued"], "rule_params.update": ["修改规则参数", "rule parameters changed"],
    "user.create": ["新建用户", "user created"], "user.update": ["修改用户", "user changed"], "export": ["导出报表", "export"],
    "checks.run": ["运行检查", "checks run"], "login": ["登录", "sign-in"]},
  unit: {kWh: ["kWh", "kWh"], kW: ["kW", "kW"], V: ["V", "V"], A: ["A", "A"], days: ["天", "days"], s: ["秒", "s"], Hz: ["Hz", "Hz"],
    "x average": ["倍（相对日均）", "x average"], "x capacity": ["倍（相对容量）", "x capacity"], "x rated voltage": ["倍额定电压", "x rated voltage"],
    "of the largest current": ["（相对最大相电流）", "of the largest current"], "x contracted kW": ["倍合同容量", "x contracted kW"],
    "of supply": ["（相对供电量）", "of supply"]},
};
export const LANGS = ["zh", "en"];
let lang = localStorage.getItem("meterlink.lang") === "en" ? "en" : "zh";
const idx = () => (lang === "zh" ? 0 : 1);
export const getLang = () => lang;
export function setLang(l) { lang = l === "en" ? "en" : "zh"; localStorage.setItem("meterlink.lang", lang); }

export function t(key, vars) {
  const w = WORDS[key];
  let s = w ? w[idx()] : key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}
// a code the server sent, in words; an unknown code is shown as it is
export function code(family, value) {
  if (value === null || value === undefined || value === "") return "–";
  const f = CODES[family] || {};
  return f[value] ? f[value][idx()] : String(value);
}
export function registerCodes(family, map) { CODES[family] = Object.assign(CODES[family] || {}, map); }
export function status(s) { return WORDS["s_" + s] ? t("s_" + s) : WORDS["st_" + s] ? t("st_" + s) : String(s ?? "–"); }
const LOCALE = () => (lang === "zh" ? "zh-CN" : "en-GB");
export function num(v, digits = 2) {
  if (v === null || v === undefined || v === "" || Number.isNaN(Number(v))) return "–";
  return new Intl.NumberFormat(LOCALE(), {minimumFractionDigits: digits, maximumFractionDigits: digits}).format(Number(v));
}
export function int(v) { return v === null || v === undefined ? "–" : new Intl.NumberFormat(LOCALE()).format(Number(v)); }
export function pct(rate, digits = 1) {
  return rate === null || rate === undefined ? "–" : (100 * Number(rate)).toFixed(digits) + " %";
}
export function kwh(v) { return v === null || v === undefined ? "–" : num(v, 2) + " kWh"; }
// a day (YYYY-MM-DD) in the locale: 2026年12月1日 / 1 Dec 2026
export function day(d) {
  if (!d) return "–";
  const [y, m, dd] = String(d).slice(0, 10).split("-").map(Number);
  return new Intl.DateTimeFormat(LOCALE(), {year: "numeric", month: "short", day: "numeric", timeZone: "UTC"})
    .format(new Date(Date.UTC(y, m - 1, dd)));
}
// an instant in the browser's (the clerk's) local time: 2026/12/01 08:05:03
export function when(ts, {seconds = false} = {}) {
  if (!ts) return "–";
  const o = {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"};
  if (seconds) o.second = "2-digit";
  return new Intl.DateTimeFormat(LOCALE(), o).format(new Date(ts));
}
export function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(LOCALE(), {numeric: "auto"});
  if (s < 3600) return rtf.format(-Math.round(s / 60), "minute");
  if (s < 86400) return rtf.format(-Math.round(s / 3600), "hour");
  return rtf.format(-Math.round(s / 86400), "day");
}
export function echartsLocale() { return lang === "zh" ? "ZH" : "EN"; }
