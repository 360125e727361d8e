# Run by src/lab/redmine.py through `rails runner SCRIPT JSON` on a Redmine instance's database: the migrations,
# Redmine's default configuration (trackers, statuses, roles), no mail, the REST API on, an API key for the
# admin user, a project, and its issues. Idempotent: run it again and it finds what it made.
#   JSON: {"project": IDENTIFIER, "name": NAME, "issues": [{"subject": S, "id": N (optional)}, ...]}
#   An issue with an id is found or created with that id (the lab mirrors issues its git history references);
#   one without is created anew.
# Prints {"api_key", "project", "issues": [ids], "statuses": {name: id}} as JSON on its last line.
# Migrating here rather than with `rake db:migrate` saves a second boot of Rails (about 10 s).
require "json"

spec = JSON.parse(ARGV.fetch(0))
ActiveRecord::Migration.verbose = false
ActiveRecord::Base.connection.migration_context.migrate
# The models were loaded before their tables had every column.
ActiveRecord::Base.descendants.each(&:reset_column_information)

Redmine::DefaultData::Loader.load("en") if Redmine::DefaultData::Loader.no_data?
# No mail: this Redmine notifies nobody.
ActionMailer::Base.perform_deliveries = false
Setting.notified_events = []
Setting.rest_api_enabled = "1"
admin = User.find_by(login: "admin")
token = Token.find_by(user: admin, action: "api") || Token.create!(user: admin, action: "api")
project = Project.find_by(identifier: spec.fetch("project")) || Project.create!(
  name: spec.fetch("name"), identifier: spec.fetch("project"), is_public: false,
  tracker_ids: Tracker.pluck(:id), enabled_module_names: %w[issue_tracking]
)
issues = spec.fetch("issues").map do |wanted|
  found = wanted["id"] && Issue.find_by(id: wanted["id"])
  found || Issue.create!(
    id: wanted["id"], project: project, tracker: project.trackers.first, author: admin,
    subject: wanted.fetch("subject"), status: IssueStatus.order(:position).first,
    priority: IssuePriority.default || IssuePriority.first
  )
end
puts JSON.generate(
  api_key: token.value, project: project.identifier, issues: issues.map(&:id),
  statuses: IssueStatus.all.to_h { |s| [s.name, s.id] }
)
