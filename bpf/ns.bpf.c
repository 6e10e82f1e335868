//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Namespace and attribute changes by path (rename, link, unlink, rmdir,
 * mkdir, symlink, chmod, chown, truncate) on kernels without the ctime
 * tracepoints (before 6.13): fentry on the security_inode_* hooks, which
 * every such call passes with the inodes it changes, and whose signatures
 * have held since 4.x (setattr's gained a first argument in 5.12). Each
 * inode goes to ns_hit like a ctime change; sys_exit makes the record.
 * The loader attaches these only where the ctime tracepoints are missing,
 * and only if the kernel allows fentry; otherwise the feature is off.
 */

SEC("fentry/security_inode_rename")
int BPF_PROG(on_ns_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry)
{
	ns_hit(old_dir);
	ns_hit(KR(old_dentry, d_inode));
	if (new_dir != old_dir)
		ns_hit(new_dir);
	ns_hit(KR(new_dentry, d_inode)); /* an overwritten target, if any */
	return 0;
}

SEC("fentry/security_inode_link")
int BPF_PROG(on_ns_link, struct dentry *old_dentry, struct inode *dir, struct dentry *new_dentry)
{
	ns_hit(KR(old_dentry, d_inode));
	ns_hit(dir);
	return 0;
}

SEC("fentry/security_inode_unlink")
int BPF_PROG(on_ns_unlink, struct inode *dir, struct dentry *dentry)
{
	ns_hit(dir);
	ns_hit(KR(dentry, d_inode));
	return 0;
}

SEC("fentry/security_inode_rmdir")
int BPF_PROG(on_ns_rmdir, struct inode *dir, struct dentry *dentry)
{
	ns_hit(dir);
	ns_hit(KR(dentry, d_inode));
	return 0;
}

SEC("fentry/security_inode_mkdir")
int BPF_PROG(on_ns_mkdir, struct inode *dir)
{
	ns_hit(dir);
	return 0;
}

SEC("fentry/security_inode_symlink")
int BPF_PROG(on_ns_symlink, struct inode *dir)
{
	ns_hit(dir);
	return 0;
}

/* chmod, chown, truncate by path: (dentry, attr) before 5.12. */
SEC("fentry/security_inode_setattr")
int BPF_PROG(on_ns_setattr, struct dentry *dentry)
{
	ns_hit(KR(dentry, d_inode));
	return 0;
}

/* (mnt_userns or idmap, dentry, attr) from 5.12. */
SEC("fentry/security_inode_setattr")
int BPF_PROG(on_ns_setattr_idmap, void *idmap, struct dentry *dentry)
{
	ns_hit(KR(dentry, d_inode));
	return 0;
}
