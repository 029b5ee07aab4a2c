// mongosh --nodb --file init-replica-set.js (the one-shot `mongo-init` service). Idempotent:
//   1. rs.initiate on the first member when the set is not initiated yet (no-op afterwards);
//   2. wait until the set has a primary;
//   3. create the application user, or reset its password and roles to the configured ones.
// Everything comes from the environment the compose file passes in.
const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};
const members = env('MONGO_MEMBERS').split(',');
const replicaSet = process.env.MONGO_REPLICA_SET ?? '';
const auth = `${encodeURIComponent(env('MONGO_ROOT_USER'))}:${encodeURIComponent(env('MONGO_ROOT_PASSWORD'))}@`;
const appUser = env('MONGO_APP_USER');
const appPassword = env('MONGO_APP_PASSWORD');
const appDatabase = env('MONGODB_DATABASE');

function waitFor(what, probe, seconds = 120) {
  for (let i = 0; i < seconds; i++) {
    try {
      if (probe()) return;
    } catch (err) {
      if (i === seconds - 1) throw err;
    }
    sleep(1000);
  }
  throw new Error(`${what}: not reached within ${seconds} s`);
}

if (replicaSet !== '') {
  const first = connect(`mongodb://${auth}${members[0]}/admin?directConnection=true`);
  let initiated = true;
  try {
    first.adminCommand({ replSetGetStatus: 1 });
  } catch (err) {
    if (err.codeName !== 'NotYetInitialized') throw err;
    initiated = false;
  }
  if (!initiated) {
    // The first member is preferred as primary; any of the three can take over.
    const config = { _id: replicaSet, members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })) };
    printjson(first.adminCommand({ replSetInitiate: config }));
  } else {
    print(`replica set ${replicaSet} already initiated`);
  }
  waitFor('a primary', () => first.adminCommand({ replSetGetStatus: 1 }).members.some((m) => m.stateStr === 'PRIMARY'));
}

const query = replicaSet !== '' ? `?replicaSet=${replicaSet}` : '?directConnection=true';
const admin = connect(`mongodb://${auth}${members.join(',')}/admin${query}`);
const roles = [{ role: 'readWrite', db: appDatabase }];
if (admin.getUser(appUser) === null) {
  admin.createUser({ user: appUser, pwd: appPassword, roles });
  print(`created user ${appUser} (readWrite on ${appDatabase})`);
} else {
  admin.updateUser(appUser, { pwd: appPassword, roles });
  print(`updated user ${appUser} (readWrite on ${appDatabase})`);
}
